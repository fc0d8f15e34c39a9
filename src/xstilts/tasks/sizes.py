"""Published example counts of the built-in tasks' splits, for planning before the data is fetched.

`xstilts plan` counts the examples of the files it can read; a data set whose files are absent is counted here
instead, and the plan says so. Each count names its source: a dataset card, a paper's table, or (for the splits
those give only for English or as a range) a count of the files in the curated copy whose provenance its README
records. A count that is the top of a published range is marked `at_most`: the plan then holds an upper bound.
Counts are of the official splits (SocialIQA's, CosmosQA's and CommonsenseQA's as `train_official`): the offline
copy's stand-ins (those three train on their dev sets there as `train`, PAWS-X on 2,000 pairs) are counted from
their files, which are there wherever they are used. tests/experiment/test_paper_plan.py checks every count against the
curated files it can."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xstilts.tasks.definition import TaskDef
from xstilts.tasks.loading import split_files


def _counts(text: str) -> dict[str, int]:
    """{language: count} from "ar=921 bn=113 ..." (a table by language stays a few lines long)."""
    return {lang: int(n) for lang, n in (pair.split("=") for pair in text.split())}


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
_COUNTED = "counted in the curated copy's files (2026-12-07)"
_UD27 = "counted in UD v2.7's XTREME conversion (salesforce/MPT), 2026-12-07"

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
    ("cosmosqa", "train_official"): PublishedSize(25_262, "Hub card allenai/cosmos_qa", choices=4),
    ("csqa", "train_official"): PublishedSize(9_741, "Hub card tau/commonsense_qa", choices=5),
    ("siqa", "train_official"): PublishedSize(33_410, "Hub card allenai/social_i_qa", choices=3),
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
    # UD-POS and PAN-X by language: counted in the files of the curated copy on 2026-12-07, whose sources its
    # README names (UD-POS: salesforce/MPT's XTREME conversion of UD v2.7). An XTREME download has
    # UD v2.5 instead, a few percent different (English train: 21,253 sentences, XTREME Table 1; 21,787 here).
    # Languages without a count here get the published top.
    ("udpos", "train"): PublishedSize(
        21_787,
        _UD27,
        per_language=_counts("ar=6075 bg=8907 ja=7027 nl=18051 tr=11467 zh=7994"),
    ),
    ("udpos", "dev"): PublishedSize(
        3_974,
        _UD27,
        per_language=_counts(
            "af=194 ar=909 bg=1115 de=19233 el=403 es=3054 et=3868 eu=1798 fa=2055 fi=3239 fr=2905 "
            "he=484 hi=1659 hu=441 id=559 it=2278 ja=501 ko=3016 lt=672 mr=46 nl=1394 pl=3960 pt=1770 "
            "ro=2247 ru=8108 ta=80 te=131 tr=1967 uk=672 ur=552 vi=800 wo=449 zh=1000"
        ),
    ),
    ("udpos", "test"): PublishedSize(
        20_436,
        _UD27 + "; German, not in it: the top of " + XTREME_TABLE + "'s 47-20,436",
        per_language=_counts(
            "af=425 ar=1680 bg=1116 el=456 en=5440 es=3147 et=4127 eu=1799 fa=2055 fi=6544 fr=5013 "
            "he=491 hi=2684 hu=449 id=1931 it=3518 ja=2365 kk=1047 ko=4276 mr=47 nl=1471 pt=2680 "
            "ru=8973 ta=654 te=146 th=1000 tl=222 tr=5842 ur=535 vi=800 yo=318 zh=3455"
        ),
        at_most=True,
    ),
    ("panx", "train"): PublishedSize(
        20_000, _XTREME_CARD + " (PAN-X.en); " + _COUNTED, per_language=_counts("hi=5000")
    ),
    ("panx", "dev"): PublishedSize(
        10_000,
        _XTREME_CARD + " (PAN-X.<lang>); " + _COUNTED + "; " + XTREME_TABLE + " (100-10,000 by language)",
        per_language={
            **dict.fromkeys("af az bn hi kk ml mr ms sw ta te tl ur".split(), 1_000),
            **dict.fromkeys("gu jv my pa qu yo".split(), 100),
        },
    ),
    ("xquad", "test"): PublishedSize(1_190, XTREME_TABLE),
    ("mlqa", "dev"): PublishedSize(
        1_148,
        "Lewis et al. 2020 (MLQA), Table 3",
        per_language=_counts("ar=517 de=512 es=500 hi=507 vi=511 zh=504"),
    ),
    ("mlqa", "test"): PublishedSize(
        11_590,
        "Lewis et al. 2020 (MLQA), Table 3",
        per_language=_counts("ar=5335 de=4517 es=5253 hi=4918 vi=5495 zh=5137"),
    ),
    # TyDiQA-GoldP by language; the per-language counts add up to the card's totals (49,881 train, 5,077 dev).
    ("tydiqa", "train"): PublishedSize(
        3_696,
        _XTREME_CARD + " (tydiqa); Clark et al. 2020",
        per_language=_counts("ar=14805 bn=2390 fi=6855 id=5702 ko=1625 ru=6490 sw=2755 te=5563"),
    ),
    ("tydiqa", "dev"): PublishedSize(
        440,
        _XTREME_CARD + " (tydiqa); Clark et al. 2020",
        per_language=_counts("ar=921 bn=113 fi=782 id=565 ko=276 ru=812 sw=499 te=669"),
    ),
    # Gold pairs; mining encodes every sentence of both corpora, many more: the bound is low for this task.
    ("bucc2018", "test"): PublishedSize(14_330, XTREME_TABLE + " (1,896-14,330 gold pairs)", at_most=True),
    # Up to 1,000 pairs per language (XTREME, Table 1); fewer where Tatoeba has fewer (counted, as above).
    ("tatoeba", "test"): PublishedSize(
        1_000,
        XTREME_TABLE + "; " + _COUNTED,
        per_language=_counts("jv=205 ka=746 kk=575 ml=687 sw=390 ta=307 te=234 th=548"),
    ),
}


def published(task: str, split: str) -> PublishedSize | None:
    return SIZES.get((task, split))


def present(task: TaskDef, split: str, lang: str, root: Path) -> bool:
    """Whether every file of one language of a split is in the data directory."""
    return all(path.is_file() for path in split_files(task, split, lang, root))
