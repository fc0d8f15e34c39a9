"""Language metadata, as data: every language of XTREME, XTREME-R and XGLUE, which covers every language the task
declarations in `xstilts.tasks` use (a test checks this).

Fields
------
code
    The ISO 639-1 code XTREME uses. Every code here is a valid ISO 639-1 code (XTREME uses none that is non-standard:
    it writes `he`, `id`, `jv`, not the legacy `iw`, `in`, `jw`). Several are macrolanguage codes whose benchmark data
    is one variety (`ar`, `az`, `et`, `fa`, `ms`, `qu`, `sw`, `zh`); `notes` says which.
family, genus
    Top-level family and branch (genus), following Glottolog/WALS. Deliberate choices: Korean is `Koreanic` (XTREME's
    README counts it as an isolate), Basque is `Basque (isolate)`, Haitian Creole is `Creole` (French-lexified).
script
    The ISO 15924 name of the script the benchmark data uses (`SCRIPT_CODES` maps it to the 4-letter code).
resource_class
    The class (0 = "Left-Behinds" ... 5 = "Winners") in the language taxonomy of Joshi et al. 2020, "The State and Fate
    of Linguistic Diversity and Inclusion in the NLP World" (ACL 2020), file `lang2tax.txt` of the paper's
    companion site, https://microsoft.github.io/linguisticdiversity/assets/lang2tax.txt (repository
    microsoft/linguisticdiversity).
    The table is keyed by English language names, read here from MaLA-LM/LangResourceAtlas
    `language-source-classification/language-source-classification-by-Joshi.json` (commit 50ec59a), which keeps the
    table's names and classes. Where the table's name differs from `name`, or the table has duplicates, `notes` says so.

Benchmark language lists: XTREME (Hu et al. 2020; google-research/xtreme README and evaluate.py TASK2LANGS), XTREME-R
(Ruder et al. 2021: WikiANN's 48, UD-POS v2.7's 38 and XCOPA's 11 languages, 50 in all) and XGLUE (Liang et al. 2020).
No network is used: everything below is literal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

JOSHI_CLASS_NAMES: dict[int, str] = {
    0: "The Left-Behinds",
    1: "The Scraping-Bys",
    2: "The Hopefuls",
    3: "The Rising Stars",
    4: "The Underdogs",
    5: "The Winners",
}

# ISO 15924 name -> code, for every script used below.
SCRIPT_CODES: dict[str, str] = {
    "Arabic": "Arab",
    "Bengali": "Beng",
    "Cyrillic": "Cyrl",
    "Devanagari": "Deva",
    "Georgian": "Geor",
    "Greek": "Grek",
    "Gujarati": "Gujr",
    "Gurmukhi": "Guru",
    "Han": "Hani",
    "Hangul": "Hang",
    "Hebrew": "Hebr",
    "Japanese (Han + kana)": "Jpan",
    "Latin": "Latn",
    "Malayalam": "Mlym",
    "Myanmar": "Mymr",
    "Tamil": "Taml",
    "Telugu": "Telu",
    "Thai": "Thai",
}


@dataclass(frozen=True, slots=True)
class Language:
    """Metadata of one language. `resource_class` is Joshi et al. (2020)'s class, 0-5."""

    code: str
    name: str
    family: str
    genus: str
    script: str
    resource_class: int
    notes: str = ""

    def __post_init__(self) -> None:
        if not (len(self.code) == 2 and self.code.isascii() and self.code.isalpha() and self.code.islower()):
            raise ValueError(f"{self.code!r}: not a two-letter lowercase ISO 639-1 code")
        if isinstance(self.resource_class, bool) or self.resource_class not in range(6):
            raise ValueError(f"{self.code}: resource_class must be an int in 0..5, got {self.resource_class!r}")
        if self.script not in SCRIPT_CODES:
            raise ValueError(f"{self.code}: unknown script {self.script!r}; add it to SCRIPT_CODES")

    @property
    def script_code(self) -> str:
        """The ISO 15924 code of `script`."""
        return SCRIPT_CODES[self.script]

    @property
    def resource_class_name(self) -> str:
        """Joshi et al.'s name for the class, e.g. 'The Hopefuls'."""
        return JOSHI_CLASS_NAMES[self.resource_class]


_IE = "Indo-European"
_AA = "Afro-Asiatic"
_AN = "Austronesian"
_NC = "Niger-Congo"
_DR = "Dravidian"

# fmt: off
LANGUAGES: tuple[Language, ...] = (
    Language("af", "Afrikaans", _IE, "Germanic", "Latin", 3),
    Language("ar", "Arabic", _AA, "Semitic", "Arabic", 5,
             notes="Macrolanguage code; the benchmark data is Modern Standard Arabic."),
    Language("az", "Azerbaijani", "Turkic", "Oghuz", "Latin", 1,
             notes="Macrolanguage code; data is North Azerbaijani in Latin script. Joshi lists 'Azerbaijani' (1) and "
                   "'Southern Azerbaijani' (1) separately."),
    Language("bg", "Bulgarian", _IE, "Slavic", "Cyrillic", 3),
    Language("bn", "Bengali", _IE, "Indo-Aryan", "Bengali", 3),
    Language("de", "German", _IE, "Germanic", "Latin", 5),
    Language("el", "Greek", _IE, "Hellenic", "Greek", 3, notes="Modern Greek."),
    Language("en", "English", _IE, "Germanic", "Latin", 5),
    Language("es", "Spanish", _IE, "Romance", "Latin", 5),
    Language("et", "Estonian", "Uralic", "Finnic", "Latin", 3,
             notes="Macrolanguage code (Standard Estonian + Voro); data is Standard Estonian."),
    Language("eu", "Basque", "Basque (isolate)", "", "Latin", 4, notes="Language isolate."),
    Language("fa", "Persian", _IE, "Iranian", "Arabic", 4,
             notes="Macrolanguage code; data is Iranian Persian. Joshi lists 'Persian' (4); 'Dari' is a separate "
                   "entry (0)."),
    Language("fi", "Finnish", "Uralic", "Finnic", "Latin", 4),
    Language("fr", "French", _IE, "Romance", "Latin", 5),
    Language("gu", "Gujarati", _IE, "Indo-Aryan", "Gujarati", 1),
    Language("he", "Hebrew", _AA, "Semitic", "Hebrew", 3),
    Language("hi", "Hindi", _IE, "Indo-Aryan", "Devanagari", 4),
    Language("ht", "Haitian Creole", "Creole", "French-based creole", "Latin", 2,
             notes="French-lexified creole. Joshi's table has two entries: 'Haitian' (2) and 'Haitian Creole' (0); "
                   "class 2 is used because class 0 means almost no resources, while Haitian has a Wikipedia and "
                   "labelled data (e.g. the WMT 2011 Haitian Creole-English featured task)."),
    Language("hu", "Hungarian", "Uralic", "Ugric", "Latin", 4),
    Language("id", "Indonesian", _AN, "Malayic", "Latin", 3),
    Language("it", "Italian", _IE, "Romance", "Latin", 4),
    Language("ja", "Japanese", "Japonic", "", "Japanese (Han + kana)", 5,
             notes="Mixed script: Han (kanji) with Hiragana and Katakana (ISO 15924 Jpan)."),
    Language("jv", "Javanese", _AN, "Javanese", "Latin", 1, notes="Latin script, not the traditional Javanese script."),
    Language("ka", "Georgian", "Kartvelian", "Karto-Zan", "Georgian", 3),
    Language("kk", "Kazakh", "Turkic", "Kipchak", "Cyrillic", 3),
    Language("ko", "Korean", "Koreanic", "", "Hangul", 4, notes="XTREME's README counts Korean as an isolate."),
    Language("lt", "Lithuanian", _IE, "Baltic", "Latin", 3),
    Language("ml", "Malayalam", _DR, "South Dravidian", "Malayalam", 1),
    Language("mr", "Marathi", _IE, "Indo-Aryan", "Devanagari", 2),
    Language("ms", "Malay", _AN, "Malayic", "Latin", 3, notes="Macrolanguage code; data is Standard Malay."),
    Language("my", "Burmese", "Sino-Tibetan", "Lolo-Burmese", "Myanmar", 1),
    Language("nl", "Dutch", _IE, "Germanic", "Latin", 4),
    Language("pa", "Punjabi", _IE, "Indo-Aryan", "Gurmukhi", 2,
             notes="Eastern Punjabi in Gurmukhi; Joshi's 'Eastern Punjabi' (2)."),
    Language("pl", "Polish", _IE, "Slavic", "Latin", 4),
    Language("pt", "Portuguese", _IE, "Romance", "Latin", 4),
    Language("qu", "Quechua", "Quechuan", "", "Latin", 1,
             notes="Macrolanguage code covering the Quechua varieties; Joshi's 'Quechua' (1)."),
    Language("ro", "Romanian", _IE, "Romance", "Latin", 3),
    Language("ru", "Russian", _IE, "Slavic", "Cyrillic", 4),
    Language("sw", "Swahili", _NC, "Bantu", "Latin", 2, notes="Macrolanguage code; data is Kiswahili (swh)."),
    Language("ta", "Tamil", _DR, "South Dravidian", "Tamil", 3),
    Language("te", "Telugu", _DR, "South-Central Dravidian", "Telugu", 1),
    Language("th", "Thai", "Kra-Dai", "Tai", "Thai", 3),
    Language("tl", "Tagalog", _AN, "Philippine", "Latin", 3, notes="Filipino is the standardised form of Tagalog."),
    Language("tr", "Turkish", "Turkic", "Oghuz", "Latin", 4),
    Language("uk", "Ukrainian", _IE, "Slavic", "Cyrillic", 3),
    Language("ur", "Urdu", _IE, "Indo-Aryan", "Arabic", 3,
             notes="Arabic script in Nastaliq style (ISO 15924 Aran is that variant of Arab)."),
    Language("vi", "Vietnamese", "Austroasiatic", "Vietic", "Latin", 4),
    Language("wo", "Wolof", _NC, "Atlantic", "Latin", 2),
    Language("yo", "Yoruba", _NC, "Volta-Niger", "Latin", 2),
    Language("zh", "Chinese", "Sino-Tibetan", "Sinitic", "Han", 5,
             notes="Macrolanguage code; the benchmarks mean Mandarin, mostly in Simplified characters (ISO 15924 "
                   "Hans). Joshi's 'Mandarin' (5)."),
)
# fmt: on

LANGUAGE_BY_CODE: dict[str, Language] = {lang.code: lang for lang in LANGUAGES}

# The languages of each benchmark, as codes of LANGUAGES.
XTREME_LANGUAGES: tuple[str, ...] = tuple(
    "af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru sw ta te th tl tr "
    "ur vi yo zh".split()
)
XTREME_R_LANGUAGES: tuple[str, ...] = tuple(
    "af ar az bg bn de el en es et eu fa fi fr gu he hi ht hu id it ja jv ka kk ko lt ml mr ms my nl pa pl pt qu "
    "ro ru sw ta te th tl tr uk ur vi wo yo zh".split()
)
XGLUE_LANGUAGES: tuple[str, ...] = tuple("en de es fr it pt nl pl ru ar bg el hi sw th tr ur vi zh".split())
BENCHMARK_LANGUAGES: dict[str, tuple[str, ...]] = {
    "xtreme": XTREME_LANGUAGES,
    "xtreme_r": XTREME_R_LANGUAGES,
    "xglue": XGLUE_LANGUAGES,
}

_FIELDS = tuple(f.name for f in fields(Language))


def language(code: str) -> Language:
    """The metadata of the language with ISO 639-1 `code`; KeyError names the code if it is unknown."""
    try:
        return LANGUAGE_BY_CODE[code]
    except KeyError:
        raise KeyError(
            f"no metadata for language code {code!r}; known codes: {', '.join(sorted(LANGUAGE_BY_CODE))}"
        ) from None


def group_by(field: str, languages: Iterable[Language | str] | None = None) -> dict[object, tuple[Language, ...]]:
    """Languages grouped by the value of `field` (e.g. "family", "script", "resource_class"), keys sorted.

    `languages` (Language objects or codes) defaults to all of LANGUAGES; groups keep its order."""
    if field not in _FIELDS:
        raise ValueError(f"unknown Language field {field!r}; fields: {', '.join(_FIELDS)}")
    chosen = LANGUAGES if languages is None else tuple(_as_language(x) for x in languages)
    groups: dict[object, list[Language]] = {}
    for lang in chosen:
        groups.setdefault(getattr(lang, field), []).append(lang)
    return {key: tuple(groups[key]) for key in sorted(groups)}


def _as_language(item: Language | str) -> Language:
    return item if isinstance(item, Language) else language(item)


__all__ = [
    "BENCHMARK_LANGUAGES",
    "JOSHI_CLASS_NAMES",
    "LANGUAGES",
    "LANGUAGE_BY_CODE",
    "SCRIPT_CODES",
    "XGLUE_LANGUAGES",
    "XTREME_LANGUAGES",
    "XTREME_R_LANGUAGES",
    "Language",
    "group_by",
    "language",
]
