"""The tasks XTREME-R (Ruder et al. 2021) adds to XTREME's. XCOPA is declared with XTREME's tasks (catalog/xtreme.py)
because the offline copy has it in XTREME's layout; UD-POS, XQuAD, MLQA, TyDiQA-GoldP and Tatoeba are XTREME's own."""

from __future__ import annotations

from xstilts.tasks.catalog import xtreme
from xstilts.tasks.definition import HubSource, Split, TaskDef

_PANX = next(task for task in xtreme.TASKS if task.name == "panx")

# XTREME-R's "WikiANN-NER" is XTREME's PAN-X: the same files (XTREME's panx/ directory), tags and seqeval F1. Only the
# name differs, so XTREME-R specs can say `wikiann`; everything else is PAN-X's declaration.
WIKIANN = _PANX.model_copy(
    update={
        "name": "wikiann",
        "description": "WikiANN named entities (XTREME-R's name for PAN-X: the same data): PER, ORG, LOC in IOB2.",
        "notes": f"Same data and metric as panx. {_PANX.notes}",
    }
)

LAREQA = TaskDef(
    name="lareqa",
    format="candidate_ranking",
    description="LAReQA (XTREME-R): each XQuAD-R question ranks the sentences of all 11 languages' paragraphs; its "
    "answer sentence in every language is relevant. mAP@20; no training.",
    reader="lareqa_json",
    # One file per language; each reads the others beside it for the multilingual pool (tasks/lareqa.py).
    splits={"test": Split(files=("xtreme/lareqa/xquad-r/{lang}.json",), languages=xtreme.XQUAD_R_LANGS)},
    train_split=None,
    eval_split="test",
    metric="map@20",
    citation="Roy et al. 2020",
    notes="Not offline (XTREME-R's download puts XQuAD-R in lareqa/xquad-r/). Sentences are embedded alone by the "
    "retrieval pooling, without training; XTREME-R fine-tunes a dual encoder on SQuAD and encodes each answer "
    "sentence with its paragraph. The Hub copy has no sentence breaks: they are inferred from punctuation.",
    hub=HubSource(
        dataset="google-research-datasets/xquad_r",
        revision="main",  # no commit of its Parquet conversion could be confirmed
        config="{lang}",
        splits={"test": "validation"},
        columns={"id": "id", "question": "question", "context": "context", "answer_starts": "answers.answer_start"},
    ),
)

_MEWSLIX_LANGS = tuple("ar de en es fa ja pl ro ta tr uk".split())

MEWSLIX = TaskDef(
    name="mewslix",
    format="candidate_ranking",
    description="Mewsli-X entity linking (XTREME-R): a mention in a WikiNews article retrieves its WikiData entity "
    "among ~1M entity descriptions in 50 languages. mAP@20 (= MRR@20: one gold entity); no training.",
    reader="mewslix_jsonl",
    # Every language's mentions are in one file; the corpus keeps them all and each is scored in its language.
    splits={
        "dev": Split(files=("xtreme/mewslix/wikinews_mentions-dev.jsonl",), languages=_MEWSLIX_LANGS),
        "test": Split(files=("xtreme/mewslix/wikinews_mentions-test.jsonl",), languages=_MEWSLIX_LANGS),
    },
    train_split=None,
    eval_split="test",
    metric="map@20",
    citation="Ruder et al. 2021; Botha et al. 2020",
    notes="Not offline; no Hub copy could be confirmed, so only XTREME-R's download layout (mewslix/) is read. "
    "Mentions and descriptions are embedded by the retrieval pooling, without training (XTREME-R fine-tunes a dual "
    "encoder on English Wikipedia pairs). Each language's evaluation embeds the whole candidate set again.",
)

TASKS: tuple[TaskDef, ...] = (WIKIANN, LAREQA, MEWSLIX)
