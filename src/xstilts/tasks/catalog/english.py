"""English intermediate tasks: the offline substitutes of the curated copy (english/...) and SQuAD, which
XQuAD and MLQA train on."""

from __future__ import annotations

from xstilts.tasks.catalog.xtreme import NLI_LABELS
from xstilts.tasks.definition import Split, TaskDef

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
            "train": Split(files=("english/siqa/socialIQa_v1.4_dev.jsonl", "english/siqa/socialIQa_v1.4_tst.jsonl"))
        },
        metric="accuracy",
        citation="Sap et al. 2019",
        notes="The official train split is not offline; dev+tst (4,178 questions) stand in for it.",
    ),
    TaskDef(
        name="cosmosqa",
        format="multiple_choice",
        description="CosmosQA (English reading-comprehension commonsense QA, 4 choices).",
        reader="cosmosqa_csv",
        splits={"train": Split(files=("english/cosmosqa/valid.csv",))},
        metric="accuracy",
        citation="Huang et al. 2019",
        notes="The official train split is not offline; valid (2,985 questions) stands in for it.",
    ),
    TaskDef(
        name="csqa",
        format="multiple_choice",
        description="CommonsenseQA (English, 5 choices).",
        reader="csqa_jsonl",
        splits={"train": Split(files=("english/commonsenseqa/dev_rand_split.jsonl",))},
        metric="accuracy",
        citation="Talmor et al. 2019",
        notes="The official train split is not offline; the random-split dev (1,221) stands in for it.",
    ),
    TaskDef(
        name="squad",
        format="span_qa",
        description="SQuAD v1.1 (English extractive QA): the training set of XQuAD and MLQA in XTREME.",
        reader="squad_json",
        splits={
            "train": Split(files=("xtreme/squad/train-v1.1.json",)),
            "dev": Split(files=("xtreme/squad/dev-v1.1.json",)),
        },
        dev_split="dev",
        metric="squad_em_f1",
        citation="Rajpurkar et al. 2016",
        notes="Not in the offline copy; train XQuAD/MLQA with `train_task: tydiqa` (English TyDiQA-GoldP).",
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
