"""The shapes of well-known encoders, as facts, for counting parameters when a model's config is neither in the
local cache nor reachable on the Hub (`xstilts plan` on a machine that has not downloaded the model yet). Each
shape is copied from the model's config.json on the Hugging Face Hub; the attribute names are the config's, so
the cost model reads either the same way. Training and evaluation always load the real config."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from xstilts.spec import ModelSpec


@dataclass(frozen=True)
class KnownConfig:
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    vocab_size: int
    source: str


def _hub(model_id: str) -> str:
    return f"config.json of {model_id} on the Hugging Face Hub"


_XLMR_BASE = KnownConfig(768, 12, 3072, 250_002, _hub("FacebookAI/xlm-roberta-base"))
_XLMR_LARGE = KnownConfig(1024, 24, 4096, 250_002, _hub("FacebookAI/xlm-roberta-large"))
_MBERT = KnownConfig(768, 12, 3072, 119_547, _hub("google-bert/bert-base-multilingual-cased"))

KNOWN_CONFIGS: dict[str, KnownConfig] = {
    # The short ids are the old ones; the Hub redirects them to the organisations' ids below.
    "xlm-roberta-base": _XLMR_BASE,
    "FacebookAI/xlm-roberta-base": _XLMR_BASE,
    "xlm-roberta-large": _XLMR_LARGE,
    "FacebookAI/xlm-roberta-large": _XLMR_LARGE,
    "facebook/xlm-roberta-xl": KnownConfig(2560, 36, 10240, 250_880, _hub("facebook/xlm-roberta-xl")),
    "facebook/xlm-roberta-xxl": KnownConfig(4096, 48, 16384, 250_880, _hub("facebook/xlm-roberta-xxl")),
    "bert-base-multilingual-cased": _MBERT,
    "google-bert/bert-base-multilingual-cased": _MBERT,
    "microsoft/mdeberta-v3-base": KnownConfig(768, 12, 3072, 251_000, _hub("microsoft/mdeberta-v3-base")),
}


def known_config(model: ModelSpec) -> KnownConfig | None:
    """The model's known shape with `num_layers` applied (a larger num_layers than the model has is refused when
    the real config is loaded, by `run`), or None for a model not listed here."""
    known = KNOWN_CONFIGS.get(model.name)
    if known is None or model.num_layers is None:
        return known
    return dataclasses.replace(known, num_hidden_layers=min(model.num_layers, known.num_hidden_layers))
