"""Every source `xstilts data fetch` knows, and the benchmark names that group them. URLs are the ones
google-research/xtreme's scripts/download_data.sh downloads (and XGLUE's README), GitHub files at the commit the
manifest's hashes were taken from, or Parquet files of Hugging Face Hub datasets (no loading scripts). Languages
come from the task declarations, so a source writes what the tasks read."""

from __future__ import annotations

from xstilts.data.sources import Download, HubFile, Source
from xstilts.tasks import REGISTRY, get_task

_XQUAD_COMMIT = "7d30520c717524000f0d9d2f9c10a069acd9d285"  # google-deepmind/xquad
_LASER_COMMIT = "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821"  # facebookresearch/LASER
_XCOPA_COMMIT = "e2e9d7f105a758ee869cd13e0fe251ef93a29840"  # cambridgeltl/xcopa
_RAW = "https://raw.githubusercontent.com"


def _declared_revision(repo: str) -> str:
    """The revision the task declarations pin for a Hub dataset (their `hub` sources, which `data_source: hub`
    loads): fetch downloads the same commit, so the two routes read the same files and cannot drift apart."""
    revisions = {source.revision for task in REGISTRY.values() for source in task.hub if source.dataset == repo}
    if len(revisions) != 1:
        raise AssertionError(f"the task declarations pin {sorted(revisions) or 'no revision'} for {repo}")
    return revisions.pop()


def _hub_file(repo: str, path: str) -> HubFile:
    return HubFile(repo=repo, path=path, revision=_declared_revision(repo))


# Tatoeba's 3-letter file names (LASER) for XTREME's 2-letter codes, as XTREME's utils_preprocess.py maps them.
TATOEBA_CODES = dict(
    pair.split(":")
    for pair in (
        "af:afr ar:ara az:aze bg:bul bn:ben de:deu el:ell es:spa et:est eu:eus fa:pes fi:fin fr:fra he:heb hi:hin "
        "hu:hun id:ind it:ita ja:jpn jv:jav ka:kat kk:kaz ko:kor lt:lit ml:mal mr:mar nl:nld pl:pol pt:por ro:ron "
        "ru:rus sw:swh ta:tam te:tel th:tha tl:tgl tr:tur uk:ukr ur:urd vi:vie zh:cmn"
    ).split()
)
# google/xtreme names its UD-POS configurations udpos.<English name>; UD v2.5, XTREME's 33 languages only.
UDPOS_NAMES = dict(
    pair.split(":")
    for pair in (
        "af:Afrikaans ar:Arabic bg:Bulgarian de:German el:Greek en:English es:Spanish et:Estonian eu:Basque "
        "fa:Persian fi:Finnish fr:French he:Hebrew hi:Hindi hu:Hungarian id:Indonesian it:Italian ja:Japanese "
        "kk:Kazakh ko:Korean mr:Marathi nl:Dutch pt:Portuguese ru:Russian ta:Tamil te:Telugu th:Thai tl:Tagalog "
        "tr:Turkish ur:Urdu vi:Vietnamese yo:Yoruba zh:Chinese"
    ).split()
)
TYDIQA_NAMES = dict(
    pair.split(":")
    for pair in (
        "ar:arabic bn:bengali en:english fi:finnish id:indonesian ko:korean ru:russian sw:swahili te:telugu"
    ).split()
)
_HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def _languages(task: str, split: str) -> tuple[str, ...]:
    return get_task(task).languages(split)


def _hub_parquet(repo: str, config: str, task: str, splits: tuple[str, ...], lang_names: dict[str, str] | None = None):
    """One Parquet shard per (split, language) of a Hub dataset laid out `{config}/{hub split}-00000-of-00001.parquet`
    (the layout of the Hub's parquet conversion of google/xtreme)."""
    downloads = []
    for split in splits:
        for lang in _languages(task, split):
            if lang_names is not None and lang not in lang_names:
                continue
            name = config.format(lang=lang if lang_names is None else lang_names[lang])
            path = f"{name}/{_HUB_SPLITS[split]}-00000-of-00001.parquet"
            downloads.append(Download(name=f"{split}-{lang}", hub=_hub_file(repo, path), lang=lang))
    return tuple(downloads)


def _glue(config: str, splits: dict[str, str]) -> tuple[Download, ...]:
    return tuple(
        Download(name=ours, hub=_hub_file("nyu-mll/glue", f"{config}/{theirs}-00000-of-00001.parquet"))
        for ours, theirs in splits.items()
    )


XTREME_SOURCES: tuple[Source, ...] = (
    Source(
        name="xnli",
        tasks=("xnli",),
        description="XNLI 1.0 dev (15 languages), written as XTREME's xnli/dev-{lang}.tsv",
        licence="CC BY-NC 4.0",
        size="17 MB",
        homepage="https://github.com/facebookresearch/XNLI",
        converter="xnli",
        downloads=(Download(name="XNLI-1.0.zip", url="https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip"),),
        options={"languages": _languages("xnli", "dev")},
    ),
    Source(
        name="pawsx",
        tasks=("pawsx",),
        description="PAWS-X x-final: English train, dev and test in 7 languages (test keeps its labels)",
        licence="PAWS-X licence: free for any use, acknowledging Google LLC",
        size="30 MB",
        homepage="https://github.com/google-research-datasets/paws/tree/master/pawsx",
        converter="pawsx",
        downloads=(Download(name="x-final.tar.gz", url="https://storage.googleapis.com/paws/pawsx/x-final.tar.gz"),),
        options={"languages": _languages("pawsx", "test")},
    ),
    Source(
        name="udpos",
        tasks=("udpos",),
        description="UD-POS (UD v2.5) from the Hub's Parquet copy of XTREME; XTREME-R's lt/pl/ro/uk/wo are not in it",
        licence="per treebank (mostly CC BY-SA 4.0; some CC BY-NC-SA)",
        size="60 MB",
        homepage="https://huggingface.co/datasets/google/xtreme",
        converter="hub_tagging",
        downloads=_hub_parquet("google/xtreme", "udpos.{lang}", "udpos", ("train", "dev", "test"), UDPOS_NAMES),
        options={"words": "tokens", "tags": "pos_tags", "pattern": "xtreme/udpos/{split}-{lang}.tsv"},
    ),
    Source(
        name="panx",
        tasks=("panx", "wikiann", "mlm_wiki"),
        description="PAN-X / WikiANN (Rahimi et al. splits) from the Hub's Parquet copy of XTREME",
        licence="WikiANN: no licence stated by the authors; Wikipedia text (CC BY-SA)",
        size="70 MB",
        homepage="https://huggingface.co/datasets/google/xtreme",
        converter="hub_tagging",
        downloads=_hub_parquet("google/xtreme", "PAN-X.{lang}", "panx", ("train", "dev")),
        options={"words": "tokens", "tags": "ner_tags", "pattern": "xtreme/panx/{split}-{lang}.tsv"},
        manual="XTREME's own route needs AmazonPhotos.zip, a hand download from Amazon Cloud Drive "
        "(https://www.amazon.com/clouddrive/share/d3KGCRCIYwhKJF0H3eWA26hjg2ZCRhjpEQtDL70FSBN); fetch uses the "
        "Hub's copy of the same splits instead, so nothing is needed by hand",
    ),
    Source(
        name="xquad",
        tasks=("xquad",),
        description="XQuAD, the official files with answers (12 languages, Romanian included)",
        licence="CC BY-SA 4.0",
        size="10 MB",
        homepage="https://github.com/google-deepmind/xquad",
        converter="place",
        downloads=tuple(
            Download(
                name=f"xtreme/xquad/xquad.{lang}.json",
                url=f"{_RAW}/google-deepmind/xquad/{_XQUAD_COMMIT}/xquad.{lang}.json",
                lang=lang,
            )
            for lang in _languages("xquad", "test")
        ),
    ),
    Source(
        name="mlqa",
        tasks=("mlqa",),
        description="MLQA v1 dev and test, the 7 same-language pairs",
        licence="CC BY-SA 3.0",
        size="75 MB",
        homepage="https://github.com/facebookresearch/MLQA",
        converter="archive",
        downloads=(Download(name="MLQA_V1.zip", url="https://dl.fbaipublicfiles.com/MLQA/MLQA_V1.zip"),),
        options={
            "members": tuple(
                f"MLQA_V1/{split}/{split}-context-{lang}-question-{lang}.json"
                for split in ("dev", "test")
                for lang in _languages("mlqa", "dev")
            ),
            "into": "xtreme/mlqa",
        },
    ),
    Source(
        name="tydiqa",
        tasks=("tydiqa",),
        description="TyDiQA-GoldP v1.1: train split by language as XTREME does, and the dev files renamed",
        licence="Apache-2.0",
        size="25 MB",
        homepage="https://github.com/google-research-datasets/tydiqa",
        converter="tydiqa",
        downloads=(
            Download(
                name="tydiqa-goldp-v1.1-train.json",
                url="https://storage.googleapis.com/tydiqa/v1.1/tydiqa-goldp-v1.1-train.json",
            ),
            Download(
                name="tydiqa-goldp-v1.1-dev.tgz",
                url="https://storage.googleapis.com/tydiqa/v1.1/tydiqa-goldp-v1.1-dev.tgz",
            ),
        ),
        options={"languages": _languages("tydiqa", "dev")},
    ),
    Source(
        name="bucc2018",
        tasks=("bucc2018",),
        description="BUCC 2018 sample (dev) and training (test) sets with their gold pairs, test gold kept",
        licence="BUCC 2018 shared task data (research use; see the task page)",
        size="60 MB",
        homepage="https://comparable.limsi.fr/bucc2018/",
        converter="bucc",
        downloads=tuple(
            Download(
                name=f"{lang}-{kind}",
                url=f"https://comparable.limsi.fr/bucc2018/bucc2018-{lang}-en.{kind}.tar.bz2",
                lang=lang,
            )
            for lang in _languages("bucc2018", "test")
            for kind in ("sample-gold", "training-gold")
        ),
    ),
    Source(
        name="tatoeba",
        tasks=("tatoeba",),
        description="Tatoeba (LASER's v1 test pairs), English side kept line-aligned",
        licence="CC BY 2.0 FR",
        size="5 MB",
        homepage="https://github.com/facebookresearch/LASER/tree/main/data/tatoeba/v1",
        converter="place",
        downloads=tuple(
            Download(
                name=f"xtreme/tatoeba/{lang}-en.{side}",
                url=f"{_RAW}/facebookresearch/LASER/{_LASER_COMMIT}/data/tatoeba/v1/"
                f"tatoeba.{TATOEBA_CODES[lang]}-eng.{TATOEBA_CODES[lang] if side == lang else 'eng'}",
                lang=lang,
            )
            for lang in _languages("tatoeba", "test")
            for side in (lang, "en")
        ),
    ),
)

XTREME_R_SOURCES: tuple[Source, ...] = (
    Source(
        name="xcopa",
        tasks=("xcopa",),
        description="XCOPA val and test in 11 languages, with labels",
        licence="CC BY 4.0",
        size="1 MB",
        homepage="https://github.com/cambridgeltl/xcopa",
        converter="place",
        downloads=tuple(
            Download(
                name=f"xtreme/xcopa/{lang}/{split}.{lang}.jsonl",
                url=f"{_RAW}/cambridgeltl/xcopa/{_XCOPA_COMMIT}/data/{lang}/{split}.{lang}.jsonl",
                lang=lang,
            )
            for lang in _languages("xcopa", "test")
            for split in ("val", "test")
        ),
    ),
    Source(
        name="copa",
        tasks=("xcopa",),
        description="English COPA (SuperGLUE v2) train/val/test, as XTREME's xcopa/{split}-en.jsonl",
        licence="BSD 2-Clause",
        size="45 kB",
        homepage="https://people.ict.usc.edu/~gordon/copa.html",
        converter="archive",
        downloads=(Download(name="COPA.zip", url="https://dl.fbaipublicfiles.com/glue/superglue/data/v2/COPA.zip"),),
        options={
            "members": ("COPA/train.jsonl", "COPA/val.jsonl", "COPA/test.jsonl"),
            "rename": ("xtreme/xcopa/train-en.jsonl", "xtreme/xcopa/val-en.jsonl", "xtreme/xcopa/test-en.jsonl"),
        },
    ),
    Source(
        name="lareqa",
        tasks=("lareqa",),
        description="LAReQA's XQuAD-R (11 languages), where XTREME-R's download puts it",
        licence="CC BY-SA 4.0",
        size="15 MB",
        homepage="https://github.com/google-research-datasets/lareqa",
        converter="archive",
        downloads=(
            Download(name="lareqa.zip", url="https://github.com/google-research-datasets/lareqa/archive/master.zip"),
        ),
        options={
            "members": tuple(f"lareqa-master/xquad-r/{lang}.json" for lang in _languages("lareqa", "test")),
            "rename": tuple(f"xtreme/lareqa/xquad-r/{lang}.json" for lang in _languages("lareqa", "test")),
        },
    ),
    Source(
        name="mewslix",
        tasks=("mewslix",),
        description="Mewsli-X entity linking (built by Google's own extraction script)",
        licence="CC BY 4.0 (WikiNews, Wikipedia, WikiData)",
        size="~3 GB while building",
        homepage="https://github.com/google-research/google-research/tree/master/dense_representations_for_entity_retrieval/mel",
        converter="manual",
        manual="run get-mewsli-x.sh of google-research's dense_representations_for_entity_retrieval/mel (it scrapes "
        "WikiNews and needs its own conda environment), then put wikinews_mentions-{dev,test}.jsonl and "
        "candidate_set_entities.jsonl in <data>/xtreme/mewslix/",
    ),
)

XGLUE_SOURCES: tuple[Source, ...] = (
    Source(
        name="xglue",
        tasks=("xglue_ner", "xglue_pos", "nc", "qadsm", "wpr", "qam"),
        description="XGLUE's full dataset archive (the understanding tasks xstilts declares)",
        licence="XGLUE terms (per-task licences; research use), accepted on download",
        size="3.5 GB",
        homepage="https://github.com/microsoft/XGLUE",
        converter="archive",
        downloads=(
            Download(
                name="xglue_full_dataset.tar.gz",
                url="https://xglue.blob.core.windows.net/xglue/xglue_full_dataset.tar.gz",
            ),
        ),
        options={"prefix": "xglue_full_dataset/", "folders": ("NER", "POS", "NC", "QADSM", "WPR", "QAM")},
        manual="XGLUE asks users to accept its licence terms (github.com/microsoft/XGLUE); if the archive does not "
        "download, save xglue_full_dataset.tar.gz by hand as <data>/xglue_full_dataset.tar.gz and run fetch again",
        manual_file="xglue_full_dataset.tar.gz",
    ),
)

_SQUAD = f"{_RAW}/rajpurkar/SQuAD-explorer/master/dataset"

ENGLISH_SOURCES: tuple[Source, ...] = (
    Source(
        name="sick",
        tasks=("sick",),
        description="SICK (Marelli et al. 2014), SICK.txt with its SemEval train/trial/test sets",
        licence="CC BY-NC-SA 3.0",
        size="220 kB",
        homepage="https://zenodo.org/record/2787612",
        converter="archive",
        downloads=(Download(name="SICK.zip", url="https://zenodo.org/record/2787612/files/SICK.zip"),),
        options={"members": ("SICK.txt",), "rename": ("english/sick/SICK.txt",)},
    ),
    Source(
        name="siqa",
        tasks=("siqa",),
        description="SocialIQA v1.4 (train, dev, test with labels inline), the archive XTREME-R downloads",
        licence="CC BY 4.0",
        size="2 MB",
        homepage="https://maartensap.github.io/social-iqa/",
        converter="archive",
        downloads=(
            Download(name="socialIQa_v1.4.tgz", url="https://maartensap.github.io/social-iqa/data/socialIQa_v1.4.tgz"),
        ),
        options={
            "members": tuple(f"socialIQa_v1.4_{s}.jsonl" for s in ("trn", "dev", "tst")),
            "into": "english/siqa",
        },
    ),
    Source(
        name="snli",
        tasks=("snli",),
        description="SNLI 1.0 (train, dev, test JSONL)",
        licence="CC BY-SA 4.0",
        size="95 MB",
        homepage="https://nlp.stanford.edu/projects/snli/",
        converter="archive",
        downloads=(Download(name="snli_1.0.zip", url="https://nlp.stanford.edu/projects/snli/snli_1.0.zip"),),
        options={
            "members": tuple(f"snli_1.0/snli_1.0_{s}.jsonl" for s in ("train", "dev", "test")),
            "rename": tuple(f"english/snli/snli_1.0_{s}.jsonl" for s in ("train", "dev", "test")),
        },
    ),
    Source(
        name="cosmosqa",
        tasks=("cosmosqa",),
        description="CosmosQA train and valid CSV from the official repository",
        licence="CC BY 4.0",
        size="25 MB",
        homepage="https://github.com/wilburOne/cosmosqa",
        converter="place",
        downloads=tuple(
            Download(name=f"english/cosmosqa/{s}.csv", url=f"{_RAW}/wilburOne/cosmosqa/master/data/{s}.csv")
            for s in ("train", "valid")
        ),
    ),
    Source(
        name="csqa",
        tasks=("csqa",),
        description="CommonsenseQA random split (train, dev) from the Hub's Parquet copy, in its JSONL schema",
        licence="MIT",
        size="1.5 MB",
        homepage="https://huggingface.co/datasets/tau/commonsense_qa",
        converter="hub_jsonl",
        downloads=tuple(
            Download(
                name=f"english/commonsenseqa/{ours}_rand_split.jsonl",
                hub=_hub_file("tau/commonsense_qa", f"data/{theirs}-00000-of-00001.parquet"),
            )
            for ours, theirs in (("train", "train"), ("dev", "validation"))
        ),
        options={"keep": ("id", "question", "question_concept", "choices", "answerKey")},
    ),
    Source(
        name="squad",
        tasks=("squad", "xquad", "mlqa"),
        description="SQuAD v1.1 train and dev (XQuAD's and MLQA's training data in XTREME)",
        licence="CC BY-SA 4.0",
        size="35 MB",
        homepage="https://rajpurkar.github.io/SQuAD-explorer/",
        converter="place",
        downloads=tuple(
            Download(name=f"xtreme/squad/{f}", url=f"{_SQUAD}/{f}") for f in ("train-v1.1.json", "dev-v1.1.json")
        ),
    ),
    Source(
        name="squad_v2",
        tasks=("squad_v2",),
        description="SQuAD v2.0 train and dev",
        licence="CC BY-SA 4.0",
        size="45 MB",
        homepage="https://rajpurkar.github.io/SQuAD-explorer/",
        converter="place",
        downloads=tuple(
            Download(name=f"english/squad_v2/{f}", url=f"{_SQUAD}/{f}") for f in ("train-v2.0.json", "dev-v2.0.json")
        ),
    ),
    Source(
        name="mnli",
        tasks=("mnli", "xnli"),
        description="MultiNLI train (as XTREME's xnli/train-en.tsv) and dev matched, from the Hub's GLUE Parquet",
        licence="OANC / CC BY-SA 3.0 (mixed; see the MultiNLI paper)",
        size="55 MB",
        homepage="https://huggingface.co/datasets/nyu-mll/glue",
        converter="hub_pairs",
        downloads=_glue(
            "mnli", {"xtreme/xnli/train-en.tsv": "train", "english/mnli/dev_matched.tsv": "validation_matched"}
        ),
    ),
    Source(
        name="qqp",
        tasks=("qqp",),
        description="Quora Question Pairs train and dev, from the Hub's GLUE Parquet",
        licence="Quora's terms (non-commercial research)",
        size="40 MB",
        homepage="https://huggingface.co/datasets/nyu-mll/glue",
        converter="hub_classification",
        downloads=_glue("qqp", {"english/qqp/train.jsonl": "train", "english/qqp/dev.jsonl": "validation"}),
        options={"text_a": "question1", "text_b": "question2"},
    ),
    Source(
        name="anli_plus",
        tasks=("anli_plus",),
        description="ANLI+ : ANLI rounds 1-3 with MNLI, SNLI and FEVER-NLI train, ANLI's dev rounds, from Hub Parquet",
        licence="CC BY-NC 4.0 (ANLI); CC BY-SA (SNLI, FEVER); MultiNLI's",
        size="230 MB",
        homepage="https://github.com/facebookresearch/anli",
        converter="anli_plus",
        downloads=(
            *(
                Download(
                    name=f"anli-{split}",
                    hub=_hub_file("facebook/anli", f"plain_text/{split}-00000-of-00001.parquet"),
                )
                for split in ("train_r1", "train_r2", "train_r3", "dev_r1", "dev_r2", "dev_r3")
            ),
            Download(name="mnli-train", hub=_hub_file("nyu-mll/glue", "mnli/train-00000-of-00001.parquet")),
            Download(name="snli-train", hub=_hub_file("stanfordnlp/snli", "plain_text/train-00000-of-00001.parquet")),
            Download(name="fever-train", hub=_hub_file("pietrolesci/nli_fever", "data/train-00000-of-00001.parquet")),
        ),
    ),
    Source(
        name="hellaswag",
        tasks=("hellaswag",),
        description="HellaSwag train and val from the official repository, as multiple-choice JSONL",
        licence="MIT",
        size="70 MB",
        homepage="https://github.com/rowanz/hellaswag",
        converter="hellaswag",
        downloads=tuple(
            Download(name=ours, url=f"{_RAW}/rowanz/hellaswag/master/data/hellaswag_{theirs}.jsonl")
            for ours, theirs in (("train", "train"), ("dev", "val"))
        ),
    ),
    Source(
        name="ccg",
        tasks=("ccg",),
        description="CCGbank supertags (LDC2005T13)",
        licence="LDC User Agreement (licensed; not redistributable)",
        size="-",
        homepage="https://catalog.ldc.upenn.edu/LDC2005T13",
        converter="manual",
        manual="CCGbank is licensed by the LDC (LDC2005T13) and cannot be downloaded: convert its sections to "
        "`word<TAB>supertag` lines, one blank line between sentences, as <data>/english/ccg/train.tsv (sections "
        "02-21) and <data>/english/ccg/dev.tsv (section 00)",
    ),
)

SOURCES: tuple[Source, ...] = XTREME_SOURCES + XTREME_R_SOURCES + XGLUE_SOURCES + ENGLISH_SOURCES


def _tasks(sources: tuple[Source, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(task for source in sources for task in source.tasks))


# Benchmark names for `fetch`: XTREME's nine tasks (their training data included: MNLI for XNLI, SQuAD for XQuAD
# and MLQA), XTREME-R's (XTREME's tasks plus its additions), XGLUE, the English tasks (the paper's intermediate
# tasks and the offline substitutes), and what examples/quickstart.yaml reads.
XTREME_TASKS = ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba")
_ENGLISH_TASKS = tuple(t for t in _tasks(ENGLISH_SOURCES) if t not in XTREME_TASKS)
BENCHMARKS: dict[str, tuple[str, ...]] = {
    "xtreme": XTREME_TASKS,
    "xtreme-r": (*XTREME_TASKS, "wikiann", *_tasks(XTREME_R_SOURCES)),
    "xglue": _tasks(XGLUE_SOURCES),
    "english": _ENGLISH_TASKS,
    "quickstart": ("panx", "sick", "siqa"),
}
