"""Language metadata: coverage of every task's languages, consistency, and spot checks of values."""

from __future__ import annotations

import dataclasses

import pytest

from xstilts.tasks import REGISTRY
from xstilts.tasks.languages import (
    BENCHMARK_LANGUAGES,
    LANGUAGE_BY_CODE,
    LANGUAGES,
    SCRIPT_CODES,
    XGLUE_LANGUAGES,
    XTREME_LANGUAGES,
    XTREME_R_LANGUAGES,
    Language,
    group_by,
    language,
)

FAMILIES = {
    "Afro-Asiatic",
    "Austroasiatic",
    "Austronesian",
    "Basque (isolate)",
    "Creole",
    "Dravidian",
    "Indo-European",
    "Japonic",
    "Kartvelian",
    "Koreanic",
    "Kra-Dai",
    "Niger-Congo",
    "Quechuan",
    "Sino-Tibetan",
    "Turkic",
    "Uralic",
}


def _task_languages() -> set[str]:
    return {lang for task in REGISTRY.values() for split in task.splits.values() for lang in split.languages}


def test_every_task_language_has_metadata():
    missing = sorted(_task_languages() - set(LANGUAGE_BY_CODE))
    assert not missing, f"task languages without metadata: {missing}"


def test_every_benchmark_language_has_metadata():
    for bench, codes in BENCHMARK_LANGUAGES.items():
        assert len(codes) == len(set(codes)), bench
        assert set(codes) <= set(LANGUAGE_BY_CODE), (bench, sorted(set(codes) - set(LANGUAGE_BY_CODE)))
    assert len(XTREME_LANGUAGES) == 40
    assert len(XTREME_R_LANGUAGES) == 50
    assert len(XGLUE_LANGUAGES) == 19
    assert set(XTREME_LANGUAGES) <= set(XTREME_R_LANGUAGES)


def test_no_language_beyond_the_benchmarks_and_tasks():
    wanted = set().union(*BENCHMARK_LANGUAGES.values()) | _task_languages()
    assert set(LANGUAGE_BY_CODE) == wanted


def test_codes_unique_and_index_consistent():
    codes = [lang.code for lang in LANGUAGES]
    assert len(codes) == len(set(codes))
    assert LANGUAGE_BY_CODE == {lang.code: lang for lang in LANGUAGES}
    assert list(codes) == sorted(codes)


def test_values_in_range():
    for lang in LANGUAGES:
        assert lang.resource_class in range(6), lang
        assert lang.family in FAMILIES, lang
        assert lang.script in SCRIPT_CODES, lang
        assert lang.name and lang.name[0].isupper(), lang
        assert len(lang.script_code) == 4


@pytest.mark.parametrize(
    ("code", "field", "expected"),
    [
        ("en", "resource_class", 5),
        ("zh", "resource_class", 5),
        ("hi", "resource_class", 4),
        ("sw", "resource_class", 2),
        ("yo", "resource_class", 2),
        ("te", "resource_class", 1),
        ("qu", "resource_class", 1),
        ("id", "resource_class", 3),
        ("ja", "script", "Japanese (Han + kana)"),
        ("ko", "script", "Hangul"),
        ("ur", "script", "Arabic"),
        ("pa", "script", "Gurmukhi"),
        ("kk", "script", "Cyrillic"),
        ("my", "script", "Myanmar"),
        ("ht", "family", "Creole"),
        ("eu", "family", "Basque (isolate)"),
        ("qu", "family", "Quechuan"),
        ("ka", "family", "Kartvelian"),
        ("th", "family", "Kra-Dai"),
        ("vi", "family", "Austroasiatic"),
        ("ko", "family", "Koreanic"),
        ("fi", "family", "Uralic"),
        ("sw", "genus", "Bantu"),
        ("fa", "genus", "Iranian"),
        ("he", "genus", "Semitic"),
        ("ta", "family", "Dravidian"),
        ("tl", "family", "Austronesian"),
    ],
)
def test_spot_checks(code, field, expected):
    assert getattr(language(code), field) == expected


def test_language_unknown_code_names_it():
    with pytest.raises(KeyError, match="'xx'"):
        language("xx")


def test_language_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        language("en").resource_class = 0  # type: ignore[misc]


def test_language_validates():
    with pytest.raises(ValueError):
        Language("en", "English", "Indo-European", "Germanic", "Latin", 6)
    with pytest.raises(ValueError):
        Language("eng", "English", "Indo-European", "Germanic", "Latin", 5)
    with pytest.raises(ValueError):
        Language("en", "English", "Indo-European", "Germanic", "Klingon", 5)


def test_group_by_partitions():
    by_family = group_by("family")
    assert sum(len(v) for v in by_family.values()) == len(LANGUAGES)
    assert {lang.code for lang in by_family["Niger-Congo"]} == {"sw", "wo", "yo"}
    by_class = group_by("resource_class")
    assert list(by_class) == sorted(by_class)
    assert {lang.code for lang in by_class[5]} == {"ar", "de", "en", "es", "fr", "ja", "zh"}
    xcopa = group_by("resource_class", REGISTRY["xcopa"].languages("test"))
    assert sum(len(v) for v in xcopa.values()) == len(REGISTRY["xcopa"].languages("test"))
    with pytest.raises(ValueError, match="colour"):
        group_by("colour")


def test_notes_mention_joshi_duplicates():
    assert "Haitian Creole" in language("ht").notes
