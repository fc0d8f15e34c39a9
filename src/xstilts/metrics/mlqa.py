"""MLQA exact match and F1: the SQuAD v1.1 scorer with a normalisation per answer language.

Definition: facebookresearch/MLQA `mlqa_evaluation_v1.py` (copied as google-research/xtreme
third_party/evaluate_mlqa.py), checked rule by rule in docs/metric-facts.md. Steps, in its order:
1. lowercase;
2. drop every Unicode punctuation character (category P*) and every ASCII punctuation character, so the ASCII
   symbols `$ + < = > ^ ` | ~` go too, while other symbols such as `～ € ©` stay;
3. replace articles by a space: en a/an/the; es un/una/unos/unas/el/la/los/las;
   de ein/eine/einen/einem/eines/einer/der/die/das/den/dem/des; vi của/là/cái/chiếc/những (the official list,
   although these are "of", "is" and classifiers); ar every `ال`, even inside a word; hi and zh nothing;
4. tokenise on whitespace, except zh, where each character in U+4E00-U+9FA5 is a token of its own (rarer CJK
   characters and kana are not split) and other runs stay whitespace tokens.
An unknown language raises as soon as an answer is normalised, as there.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from xstilts.metrics.squad import score_answers

LANGUAGES = ("ar", "de", "en", "es", "hi", "vi", "zh")

_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
}
# The official Arabic pattern is '\sال^|ال': its first branch needs ^ after three characters and never matches,
# so the rule is "every ال becomes a space", which a plain replace states directly.
_ARABIC_ARTICLE = "ال"
# A single character of the CJK range the official `mixed_segmentation` splits, or a run of anything else.
_ZH_TOKEN = re.compile(r"[\u4e00-\u9fa5]|[^\u4e00-\u9fa5]+")


@lru_cache(maxsize=65536)
def _is_punctuation(ch: str) -> bool:
    # Same set as the official `PUNCT`, looked up per character instead of built over all of Unicode at import.
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def normalize_mlqa(text: str, lang: str) -> str:
    """MLQA `normalize_answer(text, lang)`: the steps in the module docstring; tokens joined by single spaces.

    >>> normalize_mlqa("¿Dónde está el museo?", "es")
    'dónde está museo'
    >>> normalize_mlqa("北京大学 2008年", "zh")
    '北 京 大 学 2008 年'
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown MLQA language {lang!r}; MLQA has {', '.join(LANGUAGES)}")
    text = "".join(ch for ch in text.lower() if not _is_punctuation(ch))
    if lang == "ar":
        text = text.replace(_ARABIC_ARTICLE, " ")
    elif lang in _ARTICLES:
        text = _ARTICLES[lang].sub(" ", text)
    if lang == "zh":
        return " ".join(piece for word in text.split() for piece in _ZH_TOKEN.findall(word))
    return " ".join(text.split())


def mlqa_em_f1(predictions: Sequence[str], golds: Sequence[Sequence[str]], lang: str) -> dict[str, float]:
    """MLQA exact match and F1 in percent for answers in language `lang` (one of `LANGUAGES`: in MLQA's G-XLT
    setting this is the context's language, which the answers are in). Same aggregation as `squad_em_f1`: best
    over each question's gold answers, mean over questions.

    >>> mlqa_em_f1(["die Hauptstadt"], [["Hauptstadt"]], "de")
    {'exact_match': 100.0, 'f1': 100.0}
    """
    return score_answers(predictions, golds, lambda text: normalize_mlqa(text, lang))
