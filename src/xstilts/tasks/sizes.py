"""Published example counts of the built-in tasks' splits, for planning before the data is fetched.

`xstilts plan` counts the examples of the files it can read; a data set whose files are absent is counted here
instead, and the plan says so. Each count names where it was published. A count that is the top of a published
range (XTREME, Table 1, gives only the smallest and largest language of some splits) is marked `at_most`: the
plan then holds an upper bound for the languages without their own count. Counts are of the official splits: the
offline copy's stand-ins (SocialIQA, CosmosQA and CommonsenseQA train on their dev sets there) are counted from
their files, which are present wherever they are used."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xstilts.tasks.definition import TaskDef
from xstilts.tasks.loading import split_files


@dataclass(frozen=True)
class PublishedSize:
    count: int  # examples of a language the split does not list in per_language
    source: str
    per_language: Mapping[str, int] = field(default_factory=dict)
    at_most: bool = False  # `count` is the top of a published range: an upper bound
    choices: int = 1  # encoded rows per example (multiple choice: one per answer)

    def of(self, lang: str) -> int:
        return self.per_language.get(lang, self.count)


XTREME_TABLE = "Hu et al. 2020 (XTREME), Table 1"
_GLUE_CARD = "Hub card nyu-mll/glue"
_XTREME_CARD = "Hub card google/xtreme"

SIZES: dict[tuple[str, str], PublishedSize] = {
    # The paper's English intermediate tasks.
    # ANLI+: ANLI R1-R3 (16,946 + 45,460 + 100,459; Hub card facebook/anli), MNLI (392,702), SNLI (550,152 on its
    # Hub card stanfordnlp/snli, less 785 pairs without a gold label, which the reader drops) and FEVER-NLI
    # (208,346; Nie et al. 2020's release).
    ("anli_plus", "train"): PublishedSize(
        162_865 + 392_702 + 549_367 + 208_346, "sum of its parts' cards: ANLI R1-R3, MNLI, SNLI, FEVER-NLI"
    ),
    ("anli_plus", "dev"): PublishedSize(1_000 + 1_000 + 1_200, "Hub card facebook/anli (dev_r1-r3)"),
    ("mnli", "train"): PublishedSize(392_702, _GLUE_CARD + " (mnli)"),
    ("mnli", "dev"): PublishedSize(9_815, _GLUE_CARD + " (mnli validation_matched)"),
    ("qqp", "train"): PublishedSize(363_846, _GLUE_CARD + " (qqp)"),
    ("qqp", "dev"): PublishedSize(40_430, _GLUE_CARD + " (qqp validation)"),
    ("squad", "train"): PublishedSize(87_599, "Hub card rajpurkar/squad; " + XTREME_TABLE),
    ("squad", "dev"): PublishedSize(10_570, "Hub card rajpurkar/squad"),
    ("squad_v2", "train"): PublishedSize(130_319, "Hub card rajpurkar/squad_v2"),
    ("squad_v2", "dev"): PublishedSize(11_873, "Hub card rajpurkar/squad_v2"),
    ("hellaswag", "train"): PublishedSize(39_905, "Hub card Rowan/hellaswag", choices=4),
    ("hellaswag", "dev"): PublishedSize(10_042, "Hub card Rowan/hellaswag", choices=4),
    ("cosmosqa", "train"): PublishedSize(25_262, "Hub card allenai/cosmos_qa", choices=4),
    ("csqa", "train"): PublishedSize(9_741, "Hub card tau/commonsense_qa", choices=5),
    ("siqa", "train"): PublishedSize(33_410, "Hub card allenai/social_i_qa", choices=3),
    # CCGbank's standard split: sections 02-21 train, 00 dev (sentences).
    ("ccg", "train"): PublishedSize(39_604, "Hockenmaier and Steedman 2007 (CCGbank sections 02-21)"),
    ("ccg", "dev"): PublishedSize(1_913, "Hockenmaier and Steedman 2007 (CCGbank section 00)"),
    # The offline stand-in for MNLI: SICK's SemEval sets (train, trial, test).
    ("sick", "train"): PublishedSize(4_439, "Marelli et al. 2014 (SICK)"),
    ("sick", "dev"): PublishedSize(495, "Marelli et al. 2014 (SICK, trial)"),
    ("sick", "test"): PublishedSize(4_906, "Marelli et al. 2014 (SICK)"),
    # XTREME's targets.
    ("xnli", "train"): PublishedSize(392_702, XTREME_TABLE + " (MNLI's training set)"),
    ("xnli", "translate_train"): PublishedSize(392_702, XTREME_TABLE + " (MNLI translated)"),
    ("xnli", "dev"): PublishedSize(2_490, XTREME_TABLE),
    ("pawsx", "train"): PublishedSize(49_401, XTREME_TABLE),
    ("pawsx", "translate_train"): PublishedSize(49_401, XTREME_TABLE + " (translated)"),
    ("pawsx", "test"): PublishedSize(2_000, XTREME_TABLE),
    ("udpos", "train"): PublishedSize(21_253, XTREME_TABLE + " (English)"),
    ("udpos", "dev"): PublishedSize(3_974, XTREME_TABLE + " (English; other languages differ)"),
    ("udpos", "test"): PublishedSize(20_436, XTREME_TABLE + " (47-20,436 by language)", at_most=True),
    ("panx", "train"): PublishedSize(20_000, _XTREME_CARD + " (PAN-X.en)"),
    ("panx", "dev"): PublishedSize(
        10_000,
        _XTREME_CARD + " (PAN-X.<lang>); " + XTREME_TABLE + " (1,000-10,000 by language)",
        per_language={"ml": 1_000, "mr": 1_000, "ta": 1_000, "te": 1_000},
        at_most=True,
    ),
    ("xquad", "test"): PublishedSize(1_190, XTREME_TABLE),
    ("mlqa", "dev"): PublishedSize(
        1_148,
        "Lewis et al. 2020 (MLQA), Table 3",
        per_language={"ar": 517, "de": 512, "es": 500, "hi": 507, "vi": 511, "zh": 504},
    ),
    ("mlqa", "test"): PublishedSize(
        11_590,
        "Lewis et al. 2020 (MLQA), Table 3",
        per_language={"ar": 5_335, "de": 4_517, "es": 5_253, "hi": 4_918, "vi": 5_495, "zh": 5_137},
    ),
    # TyDiQA-GoldP by language; the per-language counts add up to the card's totals (49,881 train, 5,077 dev).
    ("tydiqa", "train"): PublishedSize(
        3_696,
        _XTREME_CARD + " (tydiqa); Clark et al. 2020",
        per_language={
            "ar": 14_805,
            "bn": 2_390,
            "fi": 6_855,
            "id": 5_702,
            "ko": 1_625,
            "ru": 6_490,
            "sw": 2_755,
            "te": 5_563,
        },  # fmt: skip
    ),
    ("tydiqa", "dev"): PublishedSize(
        440,
        _XTREME_CARD + " (tydiqa); Clark et al. 2020",
        per_language={"ar": 921, "bn": 113, "fi": 782, "id": 565, "ko": 276, "ru": 812, "sw": 499, "te": 669},
    ),
    # Gold pairs; mining encodes every sentence of both corpora, many more: the bound is low for this task.
    ("bucc2018", "test"): PublishedSize(14_330, XTREME_TABLE + " (1,896-14,330 gold pairs)", at_most=True),
    ("tatoeba", "test"): PublishedSize(1_000, XTREME_TABLE),
}


def published(task: str, split: str) -> PublishedSize | None:
    return SIZES.get((task, split))


def present(task: TaskDef, split: str, lang: str, root: Path) -> bool:
    """Whether every file of one language of a split is in the data directory."""
    return all(path.is_file() for path in split_files(task, split, lang, root))
