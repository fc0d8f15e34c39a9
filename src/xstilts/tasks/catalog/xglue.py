"""XGLUE's understanding tasks that XTREME does not have (Liang et al. 2020): News Classification, Query-Ad Matching,
Web Page Ranking and QA Matching. XGLUE's MLQA, XNLI and PAWS-X are XTREME's tasks; its NER (CoNLL) and POS (UD v2.5)
are not declared.

None of them is offline. Files follow XGLUE's download (xglue_full_dataset/{TASK}/xglue.{task}.{lang}.{split}, see
microsoft/XGLUE Data_Format.txt); the Hub copy is `microsoft/xglue` (configs nc, qadsm, wpr, qam; splits "train",
"validation.{lang}", "test.{lang}"; columns as in its loading script). English trains; every language is scored on
dev, because XGLUE's test files carry no labels (Data_Format.txt: test rows have no label column)."""

from __future__ import annotations

from xstilts.tasks.definition import HubSource, Split, TaskDef

_DEV_NOTE = "Evaluated on dev: XGLUE's test labels are not public (its leaderboard scores test)."


def _xglue(name: str, folder: str, languages: str, columns: dict[str, str], **declaration: object) -> TaskDef:
    """An XGLUE task: English train, dev in every language, from files or from microsoft/xglue."""
    files = f"xglue_full_dataset/{folder}/xglue.{name}.{{lang}}"
    return TaskDef(
        name=name,
        reader="xglue_tsv",
        splits={
            "train": Split(files=(f"{files}.train",)),
            "dev": Split(files=(f"{files}.dev",), languages=tuple(languages.split())),
        },
        dev_split="dev",
        eval_split="dev",
        citation="Liang et al. 2020",
        hub=HubSource(
            dataset="microsoft/xglue",
            config=name,
            splits={"train": "train", "dev": "validation.{lang}"},
            columns=columns,
        ),
        **declaration,  # type: ignore[arg-type]
    )


TASKS: tuple[TaskDef, ...] = (
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
