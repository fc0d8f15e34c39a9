"""The XTREME target tasks (Hu et al. 2020), with XCOPA from XTREME-R. Paths follow the directory layout of
google-research/xtreme's download script (xtreme/...). Deviations of the offline copy from the official benchmark
(see its README) are written into `notes`."""

from __future__ import annotations

from xstilts.tasks.definition import HubSource, Split, TaskDef

NLI_LABELS = ("entailment", "neutral", "contradiction")
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
UPOS_TAGS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()

# google/xtreme's "Delete loading script": the last step of its conversion to Parquet (one folder per configuration).
_XTREME_REVISION = "21f88c0ff5bf413a83c854eb00050e75d245161f"

_XNLI_LANGS = tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split())
_PAWSX_LANGS = tuple("de en es fr ja ko zh".split())
_PANX_DEV_LANGS = tuple(
    "af ar az bg bn de el en es et eu fa fi fr gu he hi hu id it ja jv ka kk ko lt ml mr ms my nl pa pl pt "
    "qu ro ru sw ta te tl tr uk ur vi yo zh".split()
)
# XTREME's 40 PAN-X languages, the configurations of google/xtreme; the offline dev files have 8 more from WikiANN.
_PANX_HUB_LANGS = tuple(
    "af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru sw ta te th tl tr ur "
    "vi yo zh".split()
)
_UDPOS_DEV_LANGS = tuple(
    "af ar bg de el en es et eu fa fi fr he hi hu id it ja ko lt mr nl pl pt ro ru ta te tr uk ur vi wo zh".split()
)
_UDPOS_TEST_LANGS = tuple(
    "af ar bg el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi yo zh".split()
)
_BUCC_LANGS = tuple("de fr ru zh".split())
_XCOPA_LANGS = tuple("et ht id it qu sw ta th tr vi zh".split())
_XQUAD_LANGS = tuple("ar de el en es hi ro ru th tr vi zh".split())
# XQuAD-R (LAReQA, catalog/xtreme_r.py): XQuAD's 11 languages without Romanian.
XQUAD_R_LANGS = tuple(lang for lang in _XQUAD_LANGS if lang != "ro")
_MLQA_LANGS = tuple("ar de en es hi vi zh".split())
_TYDIQA_LANGS = tuple("en ar bn fi id ko ru sw te".split())
# XTREME's machine-translated training data (translate-train), where XTREME's processors read it: xnli and pawsx
# (processors/xnli.py, pawsx.py), squad and tydiqa (translate-train/, as the SQuAD-format processors read it).
# The files are in the XTREME translations bucket (gs://xtreme_translations/<task>/translate-train/).
_XNLI_TRANSLATED = tuple(lang for lang in _XNLI_LANGS if lang != "en")
_PAWSX_TRANSLATED = tuple(lang for lang in _PAWSX_LANGS if lang != "en")
_TYDIQA_TRANSLATED = tuple(lang for lang in _TYDIQA_LANGS if lang != "en")
_TATOEBA_LANGS = tuple(
    "af ar az bg bn de el es et eu fa fi fr he hi hu id it ja jv ka kk ko lt ml mr nl pl pt ro ru sw ta te th tl "
    "tr uk ur vi zh".split()
)

TASKS: tuple[TaskDef, ...] = (
    TaskDef(
        name="xnli",
        parallel="row",
        format="classification",
        description="Cross-lingual NLI (XTREME): premise/hypothesis, 3 labels.",
        reader="pair_tsv",
        splits={
            "train": Split(files=("xtreme/xnli/train-{lang}.tsv",)),
            "dev": Split(files=("xtreme/xnli/dev-{lang}.tsv",), languages=_XNLI_LANGS),
            "translate_train": Split(
                files=("xtreme/xnli/XNLI-Translated/en-{lang}-translated.tsv",), languages=_XNLI_TRANSLATED
            ),
        },
        dev_split="dev",
        eval_split="dev",
        labels=NLI_LABELS,
        metric="accuracy",
        citation="Conneau et al. 2018",
        notes="Evaluated on dev: XTREME strips XNLI test labels. MNLI train (train-en.tsv) is not in the "
        "offline copy; train on another NLI task with `train_task`.",
        hub=HubSource(
            dataset="facebook/xnli",
            revision="83ecd0da7773326e49a494fca44b9467b27103c8",  # "Delete loading script" (Parquet from then on)
            config="{lang}",
            splits={"train": "train", "dev": "validation"},
            columns={"text_a": "premise", "text_b": "hypothesis", "label": "label"},
        ),
    ),
    TaskDef(
        name="pawsx",
        parallel="row",
        format="classification",
        description="PAWS-X paraphrase identification (XTREME): sentence pairs, 2 labels.",
        reader="pair_tsv",
        splits={
            "train": Split(files=("xtreme/pawsx/train-{lang}.tsv",)),
            "test": Split(files=("xtreme/pawsx/test-{lang}.tsv",), languages=_PAWSX_LANGS),
            "translate_train": Split(
                files=("xtreme/pawsx/translated/en-{lang}-translated.tsv",), languages=_PAWSX_TRANSLATED
            ),
        },
        eval_split="test",
        labels=("0", "1"),
        metric="accuracy",
        citation="Yang et al. 2019",
        notes="Offline train-en is a copy of dev-en, so every dev file is contaminated: no dev split is "
        "declared. Test labels for en/es/fr/ja/ko are projected from German (~2% label noise).",
        hub=HubSource(
            dataset="google/xtreme",
            revision=_XTREME_REVISION,
            config="PAWS-X.{lang}",
            splits={"train": "train", "test": "test"},
            columns={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
        ),
    ),
    TaskDef(
        name="panx",
        format="tagging",
        description="PAN-X / WikiANN named entities (XTREME): PER, ORG, LOC in IOB2.",
        reader="conll",
        splits={
            "train": Split(
                files=("xtreme/panx/train-{lang}.tsv",),
                languages=tuple("en ar de es fr hi ja ru zh".split()),
            ),
            "dev": Split(files=("xtreme/panx/dev-{lang}.tsv",), languages=_PANX_DEV_LANGS),
        },
        dev_split="dev",
        eval_split="dev",
        labels=PANX_TAGS,
        metric="seqeval_f1",
        citation="Pan et al. 2017; Rahimi et al. 2019",
        notes="Evaluated on dev: XTREME's PAN-X test labels are not public. No Thai offline.",
        hub=HubSource(
            dataset="google/xtreme",
            revision=_XTREME_REVISION,
            config="PAN-X.{lang}",
            languages=_PANX_HUB_LANGS,
            splits={"train": "train", "dev": "validation"},
            columns={"words": "tokens", "tags": "ner_tags"},
        ),
    ),
    TaskDef(
        name="udpos",
        format="tagging",
        description="Universal Dependencies part-of-speech tags (XTREME), 17 UPOS tags.",
        reader="conll",
        splits={
            "train": Split(files=("xtreme/udpos/train-{lang}.tsv",), languages=tuple("en ar bg ja nl tr zh".split())),
            "dev": Split(files=("xtreme/udpos/dev-{lang}.tsv",), languages=_UDPOS_DEV_LANGS),
            "test": Split(files=("xtreme/udpos/test-{lang}.tsv",), languages=_UDPOS_TEST_LANGS),
        },
        dev_split="dev",
        eval_split="test",
        labels=UPOS_TAGS,
        metric="udpos_f1",
        citation="Nivre et al. 2018",
        notes="Offline files are UD v2.7 (XTREME uses v2.5 for most languages); no German test. Scored "
        "with seqeval 0.0.12's chunk F1, as XTREME's published numbers are (seqeval 1.2 differs).",
    ),
    TaskDef(
        name="xcopa",
        format="multiple_choice",
        description="XCOPA causal commonsense (XTREME-R): premise, cause/effect question, 2 choices. "
        "Trained on English COPA.",
        reader="copa_jsonl",
        splits={
            "train": Split(files=("xtreme/xcopa/train-{lang}.jsonl",)),
            "dev": Split(files=("xtreme/xcopa/val-{lang}.jsonl",)),
            "val": Split(
                files=("xtreme/xcopa/{lang}/val.{lang}.jsonl",),
                languages=("en", *_XCOPA_LANGS),
                per_language={"en": ("xtreme/xcopa/val-en.jsonl",)},
            ),
            "test": Split(files=("xtreme/xcopa/{lang}/test.{lang}.jsonl",), languages=_XCOPA_LANGS),
        },
        dev_split="dev",
        eval_split="test",
        metric="accuracy",
        citation="Ponti et al. 2020; Roemmele et al. 2011",
        notes="English COPA test labels are placeholders, so English is scored on val only.",
    ),
    TaskDef(
        name="xquad",
        parallel="id",
        parallel_to={"test": "squad/dev"},  # the ids are SQuAD v1.1 dev's
        format="span_qa",
        description="XQuAD (XTREME): SQuAD v1.1 dev translated into 11 languages (+ Romanian).",
        reader="squad_json",
        splits={"test": Split(files=("xtreme/xquad/xquad.{lang}.json",), languages=_XQUAD_LANGS)},
        train_split=None,
        train_task="squad",
        eval_split="test",
        metric="squad_em_f1",
        citation="Artetxe et al. 2020",
        notes="Offline files are the official ones with answers (XTREME blanks them); ro is included.",
    ),
    TaskDef(
        name="mlqa",
        parallel="id",
        format="span_qa",
        description="MLQA (XTREME): extractive QA in 7 languages, same-language context and question.",
        reader="squad_json",
        splits={
            "dev": Split(
                files=("xtreme/mlqa/MLQA_V1/dev/dev-context-{lang}-question-{lang}.json",), languages=_MLQA_LANGS
            ),
            "test": Split(
                files=("xtreme/mlqa/MLQA_V1/test/test-context-{lang}-question-{lang}.json",), languages=_MLQA_LANGS
            ),
        },
        train_split=None,
        train_task="squad",
        eval_split="dev",
        metric="mlqa_em_f1",
        citation="Lewis et al. 2020",
        notes="Evaluated on dev: MLQA test is not in the offline copy. MLQA's own answer normalisation.",
    ),
    TaskDef(
        name="tydiqa",
        format="span_qa",
        description="TyDiQA-GoldP (XTREME): extractive QA with gold passages, 9 languages.",
        reader="squad_json",
        splits={
            "train": Split(
                files=("xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.{lang}.train.json",),
                languages=_TYDIQA_LANGS,
            ),
            "dev": Split(
                files=("xtreme/tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json",), languages=_TYDIQA_LANGS
            ),
            "translate_train": Split(
                files=("xtreme/tydiqa/translate-train/tydiqa.translate.train.en-{lang}.json",),
                languages=_TYDIQA_TRANSLATED,
            ),
        },
        eval_split="dev",
        metric="squad_em_f1",
        citation="Clark et al. 2020",
        notes="Offline: train in en/ko/sw only and no dev, so no TyDiQA evaluation; its English train set is "
        "the offline stand-in for SQuAD.",
    ),
    TaskDef(
        name="bucc2018",
        format="bitext_mining",
        description="BUCC 2018 parallel sentence mining (XTREME): each non-English sentence mines its translation "
        "among the English sentences by margin score; F1 at the threshold that is best on dev. No training.",
        reader="bucc",
        splits={
            "dev": Split(files=("xtreme/bucc2018/{lang}-en.dev.{lang}",), languages=_BUCC_LANGS),
            # Dev first: its gold pairs tune the margin threshold that test is scored at (formats/corpus_retrieval).
            "test": Split(
                files=("xtreme/bucc2018/{lang}-en.dev.{lang}", "xtreme/bucc2018/{lang}-en.test.{lang}"),
                languages=_BUCC_LANGS,
            ),
        },
        train_split=None,
        eval_split="test",
        metric="bucc_f1",
        citation="Zweigenbaum et al. 2018",
        notes="Not in the offline copy. Test needs {lang}-en.test.gold, which XTREME's download deletes: take it "
        "from BUCC's training-gold archive. max_eval_examples counts corpora here; leave it unset.",
    ),
    TaskDef(
        name="tatoeba",
        format="retrieval",
        description="Tatoeba sentence retrieval (XTREME): each English sentence retrieves its translation "
        "among up to 1,000 sentences; no training.",
        reader="tatoeba",
        splits={"test": Split(files=("xtreme/tatoeba/{lang}-en.{lang}",), languages=_TATOEBA_LANGS)},
        train_split=None,
        eval_split="test",
        metric="accuracy",
        citation="Artetxe and Schwenk 2019",
        notes="English side line-aligned (an XTREME download sorts it and is refused).",
        # Not parallel (no `parallel=`), as the offline data shows (LASER's v1 files, 41 English sides, 36,692
        # lines): row i of two languages holds the same English sentence 11 times over all 820 pairs of languages
        # (at most 2 rows of 1,000 for a pair), so rows are not items. Sentences do recur at other rows (2,937 of
        # the 32,558 distinct English sentences are in more than one file; de and ja share 487, de and fr 228):
        # LASER drew each language's pairs on its own. Pairs carry no id, and the task has no training split a
        # stage could read, so no parallel-id leak can arise; shared text is the content check's.
    ),
)
