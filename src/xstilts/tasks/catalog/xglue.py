"""XGLUE's understanding tasks that XTREME does not have (Liang et al. 2020): NER (CoNLL-2002/2003), POS (UD v2.5), News
Classification, Query-Ad Matching, Web Page Ranking and QA Matching. XGLUE's MLQA, XNLI and PAWS-X are XTREME's
tasks. NER and POS are `xglue_ner` and `xglue_pos`: other data than XTREME's PAN-X and UD-POS.

None of them is offline. Files follow XGLUE's download (xglue_full_dataset/{TASK}/xglue.{task}.{lang}.{split}, see
microsoft/XGLUE Data_Format.txt; NER and POS: xglue_full_dataset/{NER,POS}/{lang}.{split}, English train only, as
microsoft/XGLUE evaluation/xglue_evaluate.py and the Hub loading script read them). The Hub's `microsoft/xglue` is
script-only, so `data_source: hub` reads a Parquet copy of it (configs ner, pos, nc, qadsm, wpr, qam; splits "train",
"validation.{lang}", "test.{lang}"; columns as microsoft/xglue's card gives them). English trains; every language is
scored on dev, because XGLUE's test files carry no labels (Data_Format.txt: test rows have no label column)."""

from __future__ import annotations

from xstilts.tasks.catalog.xtreme import UPOS_TAGS
from xstilts.tasks.definition import HubSource, Split, TaskDef

# microsoft/xglue is script-only (its script downloads Microsoft's archive), which `datasets` >= 4 does not run, and
# no Parquet export of it could be confirmed. hgissbkh/xglue is a Parquet upload of it made with `datasets`
# (`push_to_hub`): the same configurations, split names ("validation.de") and columns; its last "Upload dataset".
_HUB_COPY = "hgissbkh/xglue"
_HUB_REVISION = "de1926389545bc73d13a5b850f2596bdaf463f72"

_DEV_NOTE = "Evaluated on dev: XGLUE's test labels are not public (its leaderboard scores test)."


def _declare(name: str, config: str, files: str, languages: str, columns: dict[str, str], **declaration) -> TaskDef:
    """An XGLUE task: English train, dev in every language, from `files`.{train,dev} or from microsoft/xglue."""
    return TaskDef(
        name=name,
        splits={
            "train": Split(files=(f"{files}.train",)),
            "dev": Split(files=(f"{files}.dev",), languages=tuple(languages.split())),
        },
        dev_split="dev",
        eval_split="dev",
        citation="Liang et al. 2020",
        hub=HubSource(
            dataset=_HUB_COPY,
            revision=_HUB_REVISION,
            config=config,
            splits={"train": "train", "dev": "validation.{lang}"},
            columns=columns,
        ),
        **declaration,
    )


def _xglue(name: str, folder: str, languages: str, columns: dict[str, str], **declaration: object) -> TaskDef:
    """NC, QADSM, WPR, QAM: tab-separated rows in xglue_full_dataset/{TASK}/xglue.{task}.{lang}.{split}."""
    files = f"xglue_full_dataset/{folder}/xglue.{name}.{{lang}}"
    return _declare(name, name, files, languages, columns, reader="xglue_tsv", **declaration)


def _xglue_tagging(name: str, folder: str, languages: str, column: str, **declaration: object) -> TaskDef:
    """NER or POS: `{lang}.{split}` files of space-separated word and tag (xglue_full_dataset/NER/en.train,
    .../de.dev); the Hub's configs `ner` / `pos` hold `words` and the tags."""
    files = f"xglue_full_dataset/{folder}/{{lang}}"
    columns = {"words": "words", "tags": column}
    return _declare(
        f"xglue_{name}", name, files, languages, columns, format="tagging", reader="xglue_conll", **declaration
    )


TASKS: tuple[TaskDef, ...] = (
    _xglue_tagging(
        "ner",
        "NER",
        "de en es nl",
        "ner",
        description="XGLUE NER: CoNLL-2002 (es, nl) and CoNLL-2003 (en, de) named entities, PER, ORG, LOC, MISC.",
        # The Hub's ClassLabel order. CoNLL writes IOB1 (I- opens a chunk after O; B- only between two adjacent
        # chunks of one type); seqeval's default scheme reads both, as xglue_evaluate.py's f1_score does.
        labels=("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"),
        metric="seqeval_f1",
        notes=_DEV_NOTE,
    ),
    _xglue_tagging(
        "pos",
        "POS",
        "ar bg de el en es fr hi it nl pl pt ru th tr ur vi zh",
        "pos",
        description="XGLUE POS: Universal Dependencies v2.5 part-of-speech tags, 17 UPOS tags.",
        labels=tuple(UPOS_TAGS),
        metric="token_accuracy",
        notes=f"{_DEV_NOTE} Scored by tag accuracy, as XGLUE's paper and README state; xglue_evaluate.py "
        "computes seqeval's chunk precision over the tags instead.",
    ),
    _xglue(
        "nc",
        "NC",
        "en de es fr ru",
        {"text_a": "news_title", "text_b": "news_body", "label": "news_category"},
        format="classification",
        description="XGLUE News Classification: a news article (title, body) into one of 10 categories.",
        # The order of the Hub's ClassLabel (XGLUE's files write the names themselves).
        labels=tuple("foodanddrink sports travel finance lifestyle news entertainment health video autos".split()),
        metric="accuracy",
        notes=_DEV_NOTE,
    ),
    _xglue(
        "qadsm",
        "QADSM",
        "en de fr",
        {"text_a": "query", "text_b": "ad_title+ad_description", "label": "relevance_label"},
        format="classification",
        description="XGLUE Query-Ad Matching: is an ad (title, description) relevant to a search query?",
        labels=("Bad", "Good"),
        metric="accuracy",
        notes=_DEV_NOTE,
    ),
    _xglue(
        "wpr",
        "WPR",
        "en de es fr it pt zh",
        # sic: the Hub's column is spelled "relavance_label"
        {"text_a": "query", "text_b": "web_page_title+web_page_snippet", "label": "relavance_label"},
        format="ranking",
        description="XGLUE Web Page Ranking: the relevance grade (0-4) of a web page (title, snippet) to a query; "
        "nDCG per query.",
        labels=("Bad", "Fair", "Good", "Excellent", "Perfect"),  # grades 0..4, worst first
        metric="ndcg",
        notes=f"{_DEV_NOTE} Trained as 5-way classification; the predicted grade ranks each query's pages.",
    ),
    _xglue(
        "qam",
        "QAM",
        "en de fr",
        {"text_a": "question", "text_b": "answer", "label": "label"},
        format="classification",
        description="XGLUE QA Matching: does a passage answer a question?",
        labels=("False", "True"),
        metric="accuracy",
        notes=_DEV_NOTE,
    ),
)
