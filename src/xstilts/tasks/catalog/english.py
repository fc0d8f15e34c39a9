"""English intermediate tasks: the paper's nine (Phang et al. 2020), the offline substitutes of the curated copy
(english/...) and SQuAD, which XQuAD and MLQA train on.

Every task the paper used has a Hugging Face Hub source (`data_source: hub`; ids, configs, splits and columns as
the Hub's dataset cards give them). Tasks that are not offline declare files where a user would put them: the
official file where xstilts reads its format, else the documented JSONL of docs/tasks.md under english/<task>/."""

from __future__ import annotations

from xstilts.tasks.catalog.xtreme import NLI_LABELS
from xstilts.tasks.definition import PARQUET_EXPORT, HubSource, Split, TaskDef

_NLI_COLUMNS = {"text_a": "premise", "text_b": "hypothesis", "label": "label"}
_SQUAD_COLUMNS = {
    "id": "id",
    "question": "question",
    "context": "context",
    "answers": "answers.text",
    "answer_starts": "answers.answer_start",
}
_NOT_OFFLINE = "Not in the offline copy: use `data_source: hub`, or put the files where `splits` says. "
# Pinned Hub revisions (docs/tasks.md; schemas in tests/fixtures/hub/). A commit after the repository's conversion to
# Parquet where one was found; "main" for Parquet repositories whose current commit could not be confirmed;
# PARQUET_EXPORT for script-only repositories, whose own branch `datasets` >= 4 refuses to load.
_GLUE = "main"  # nyu-mll/glue: Parquet since its conversion; no commit of it confirmed
_SNLI = "5611843f4bc8fccc5c6d97eafb5845741900d120"  # stanfordnlp/snli: "Delete loading script"
_ANLI = "8e4813d81f46d313dac7892e1c28076917cfcdf9"  # facebook/anli: "Convert dataset to Parquet (#5)"
_NLI_FEVER = "1eddac63112eee1fdf1966e0bca27a5ff248c772"  # pietrolesci/nli_fever: Parquet from its first upload
_SQUAD_V2 = "bc1432158a3d147e8bdda46a43cc84471ac2433d"  # rajpurkar/squad_v2: "Delete loading script"

TASKS: tuple[TaskDef, ...] = (
    TaskDef(
        name="sick",
        format="classification",
        description="SICK entailment (English NLI; offline stand-in for MNLI).",
        reader="sick",
        splits={
            "train": Split(files=("english/sick/SICK.txt",)),
            "dev": Split(files=("english/sick/SICK.txt",)),
            "test": Split(files=("english/sick/SICK.txt",)),
        },
        dev_split="dev",
        labels=NLI_LABELS,
        metric="accuracy",
        citation="Marelli et al. 2014",
        notes="SemEval sets: TRAIN is train, TRIAL is dev, TEST is test.",
    ),
    TaskDef(
        name="snli",
        format="classification",
        description="SNLI (English NLI), the offline subset of its dev and test sets used as training data.",
        reader="snli_jsonl",
        splits={"train": Split(files=("english/snli/snli_1.0_dev.jsonl", "english/snli/snli_1.0_test.jsonl"))},
        labels=NLI_LABELS,
        metric="accuracy",
        citation="Bowman et al. 2015",
        notes="Only 2,566 pairs of SNLI dev+test are offline; rows without gold consensus are dropped.",
    ),
    TaskDef(
        name="siqa",
        format="multiple_choice",
        description="SocialIQA (English commonsense QA, 3 choices).",
        reader="siqa_jsonl",
        splits={
            "train": Split(files=("english/siqa/socialIQa_v1.4_dev.jsonl", "english/siqa/socialIQa_v1.4_tst.jsonl")),
            # The official train split, which `xstilts data fetch siqa` writes; the paper's spec trains on it.
            "train_official": Split(files=("english/siqa/socialIQa_v1.4_trn.jsonl",)),
        },
        metric="accuracy",
        citation="Sap et al. 2019",
        notes="The official train split is not offline; dev+tst (4,178 questions) stand in for it as `train`. "
        "`train_official` reads the official train file (`xstilts data fetch siqa`).",
        # Labels are "1".."3" (older copies end them with a newline, which the loader strips). Main still holds the
        # loading script (a Parquet pull request, #3, is unmerged), so the Hub's Parquet export is read.
        hub=HubSource(
            dataset="allenai/social_i_qa",
            revision=PARQUET_EXPORT,
            splits={"train": "train", "train_official": "train"},
            columns={"context": "context", "question": "question", "label": "label"},
            choice_columns=("answerA", "answerB", "answerC"),
            label_map={"1": 0, "2": 1, "3": 2},
        ),
    ),
    TaskDef(
        name="cosmosqa",
        format="multiple_choice",
        description="CosmosQA (English reading-comprehension commonsense QA, 4 choices).",
        reader="cosmosqa_csv",
        splits={
            "train": Split(files=("english/cosmosqa/valid.csv",)),
            "train_official": Split(files=("english/cosmosqa/train.csv",)),  # written by `xstilts data fetch`
        },
        metric="accuracy",
        citation="Huang et al. 2019",
        notes="The official train split is not offline; valid (2,985 questions) stands in for it as `train`. "
        "`train_official` reads the official train file (`xstilts data fetch cosmosqa`).",
        # Script-only on its main branch: the Hub's Parquet export is read.
        hub=HubSource(
            dataset="allenai/cosmos_qa",
            revision=PARQUET_EXPORT,
            splits={"train": "train", "train_official": "train"},
            columns={"context": "context", "question": "question", "label": "label"},
            choice_columns=("answer0", "answer1", "answer2", "answer3"),
        ),
    ),
    TaskDef(
        name="csqa",
        format="multiple_choice",
        description="CommonsenseQA (English, 5 choices).",
        reader="csqa_jsonl",
        splits={
            "train": Split(files=("english/commonsenseqa/dev_rand_split.jsonl",)),
            "train_official": Split(files=("english/commonsenseqa/train_rand_split.jsonl",)),  # `xstilts data fetch`
        },
        metric="accuracy",
        citation="Talmor et al. 2019",
        notes="The official train split is not offline; the random-split dev (1,221) stands in for it as `train`. "
        "`train_official` reads the official train file (`xstilts data fetch csqa`).",
        hub=HubSource(
            dataset="tau/commonsense_qa",
            revision="main",  # Parquet since its conversion; no commit of it confirmed
            splits={"train": "train", "train_official": "train"},
            columns={"question": "question", "choices": "choices.text", "label": "answerKey"},
            label_map={letter: i for i, letter in enumerate("ABCDE")},
        ),
    ),
    TaskDef(
        name="squad",
        format="span_qa",
        description="SQuAD v1.1 (English extractive QA): the training set of XQuAD and MLQA in XTREME.",
        reader="squad_json",
        splits={
            "train": Split(files=("xtreme/squad/train-v1.1.json",)),
            "dev": Split(files=("xtreme/squad/dev-v1.1.json",)),
            # XTREME's translate-train for XQuAD and MLQA (`train_split: translate_train` on those targets).
            "translate_train": Split(
                files=("xtreme/squad/translate-train/squad.translate.train.en-{lang}.json",),
                languages=tuple("ar de el es hi ru th tr vi zh".split()),
            ),
        },
        dev_split="dev",
        metric="squad_em_f1",
        citation="Rajpurkar et al. 2016",
        notes="Not in the offline copy; train XQuAD/MLQA with `train_task: tydiqa` (English TyDiQA-GoldP).",
        hub=HubSource(
            dataset="rajpurkar/squad",
            revision="main",  # Parquet since its conversion; no commit of it confirmed
            config="plain_text",
            splits={"train": "train", "dev": "validation"},
            columns=_SQUAD_COLUMNS,
        ),
    ),
    TaskDef(
        name="mnli",
        format="classification",
        description="MultiNLI (English NLI, 393k pairs), the paper's MNLI intermediate task.",
        reader="pair_tsv",
        splits={
            "train": Split(files=("xtreme/xnli/train-en.tsv",)),  # XTREME's download writes MNLI train here
            "dev": Split(files=("english/mnli/dev_matched.tsv",)),
        },
        dev_split="dev",
        labels=NLI_LABELS,
        metric="accuracy",
        citation="Williams et al. 2018",
        notes=_NOT_OFFLINE + "Files: sentence1<TAB>sentence2<TAB>label, as XTREME's xnli/train-en.tsv.",
        hub=HubSource(
            dataset="nyu-mll/glue",
            revision=_GLUE,
            config="mnli",
            splits={"train": "train", "dev": "validation_matched"},
            columns=_NLI_COLUMNS,
        ),
    ),
    TaskDef(
        name="anli_plus",
        format="classification",
        description="ANLI+ (the paper's ANLI intermediate task): ANLI rounds 1-3 with MNLI, SNLI and FEVER-NLI, "
        "as the ANLI paper trains on them.",
        reader="classification_jsonl",
        splits={
            "train": Split(files=("english/anli_plus/train.jsonl",)),
            "dev": Split(files=("english/anli_plus/dev.jsonl",)),
        },
        dev_split="dev",
        labels=NLI_LABELS,
        metric="accuracy",
        citation="Nie et al. 2020",
        notes=_NOT_OFFLINE + "Dev is ANLI's three dev rounds only. SNLI pairs without gold label are dropped.",
        hub=(
            HubSource(
                dataset="facebook/anli",
                revision=_ANLI,
                config="plain_text",
                splits={"train": ("train_r1", "train_r2", "train_r3"), "dev": ("dev_r1", "dev_r2", "dev_r3")},
                columns=_NLI_COLUMNS,
            ),
            HubSource(
                dataset="nyu-mll/glue", revision=_GLUE, config="mnli", splits={"train": "train"}, columns=_NLI_COLUMNS
            ),
            HubSource(
                dataset="stanfordnlp/snli",
                revision=_SNLI,
                config="plain_text",
                splits={"train": "train"},
                columns=_NLI_COLUMNS,
            ),
            # FEVER-NLI as the ANLI authors released it; the card's columns premise/hypothesis are as declared (a
            # discussion on the card asks whether they are swapped; the data is used as published).
            HubSource(
                dataset="pietrolesci/nli_fever", revision=_NLI_FEVER, splits={"train": "train"}, columns=_NLI_COLUMNS
            ),
        ),
    ),
    TaskDef(
        name="qqp",
        format="classification",
        description="Quora Question Pairs (English paraphrase identification, 364k pairs).",
        reader="classification_jsonl",
        splits={
            "train": Split(files=("english/qqp/train.jsonl",)),
            "dev": Split(files=("english/qqp/dev.jsonl",)),
        },
        dev_split="dev",
        labels=("not_duplicate", "duplicate"),
        metric="accuracy",
        citation="Iyer et al. 2017 (GLUE)",
        notes=_NOT_OFFLINE,
        hub=HubSource(
            dataset="nyu-mll/glue",
            revision=_GLUE,
            config="qqp",
            splits={"train": "train", "dev": "validation"},
            columns={"text_a": "question1", "text_b": "question2", "label": "label"},
        ),
    ),
    TaskDef(
        name="squad_v2",
        format="span_qa",
        description="SQuAD v2.0 (English extractive QA with 43k unanswerable questions, trained to point at <s>).",
        reader="squad_json",
        splits={
            "train": Split(files=("english/squad_v2/train-v2.0.json",)),
            "dev": Split(files=("english/squad_v2/dev-v2.0.json",)),
        },
        dev_split="dev",
        metric="squad_v2_em_f1",
        citation="Rajpurkar et al. 2018",
        notes=_NOT_OFFLINE + "Evaluate with format_options {allow_no_answer: true}, else every question is answered.",
        hub=HubSource(
            dataset="rajpurkar/squad_v2",
            revision=_SQUAD_V2,
            config="squad_v2",
            splits={"train": "train", "dev": "validation"},
            columns=_SQUAD_COLUMNS,
        ),
    ),
    TaskDef(
        name="hellaswag",
        format="multiple_choice",
        description="HellaSwag (English commonsense sentence completion, 4 endings).",
        reader="multiple_choice_jsonl",
        splits={
            "train": Split(files=("english/hellaswag/train.jsonl",)),
            "dev": Split(files=("english/hellaswag/dev.jsonl",)),
        },
        dev_split="dev",
        metric="accuracy",
        citation="Zellers et al. 2019",
        notes=_NOT_OFFLINE + "The test split has no labels.",
        # The context is `ctx` (ctx_a + ctx_b); labels are the strings "0".."3". Main still holds the loading script
        # (a Parquet pull request, #7, is open), so the Hub's Parquet export is read.
        hub=HubSource(
            dataset="Rowan/hellaswag",
            revision=PARQUET_EXPORT,
            splits={"train": "train", "dev": "validation"},
            columns={"context": "ctx", "choices": "endings", "label": "label"},
        ),
    ),
    TaskDef(
        name="ccg",
        format="tagging",
        description="CCG supertagging on CCGbank (English; about 1,300 supertags in its training sections).",
        reader="conll",
        splits={
            "train": Split(files=("english/ccg/train.tsv",)),
            "dev": Split(files=("english/ccg/dev.tsv",)),
        },
        dev_split="dev",
        eval_split="dev",  # supertagging accuracy, to check a CCG intermediate model
        labels_from="train",
        metric="token_accuracy",
        citation="Hockenmaier and Steedman 2007",
        notes="CCGbank is licensed (LDC2005T13): never offline, no Hub source. Convert it to `word<TAB>supertag` "
        "lines (CoNLL) under english/ccg/, or declare the files in the spec (docs/tasks.md).",
    ),
    TaskDef(
        name="mlm_wiki",
        format="mlm",
        description="Masked-language modelling on Wikipedia sentences (the PAN-X training files, tags ignored); "
        "an auxiliary task for intermediate training.",
        reader="conll_text",
        splits={
            "train": Split(
                files=("xtreme/panx/train-{lang}.tsv",), languages=tuple("en ar de es fr hi ja ru zh".split())
            )
        },
        metric="accuracy",
        notes="Raw text from PAN-X train, whose dev sets are PAN-X's evaluation data: sentences differ, but the "
        "domain is the same.",
    ),
)
