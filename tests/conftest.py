"""Shared fixtures: the real benchmark data, a model cache that survives between test runs, and a tiny
random encoder saved as a local model directory (it exercises the same path as a user's own model)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Set at import, before any test module imports transformers: huggingface_hub reads HF_HUB_OFFLINE once, when
# it is imported. Converted models are reused across runs (never committed: .cache/ is ignored).
os.environ.setdefault("XSTILTS_CACHE", str(REPO / ".cache"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# $XSTILTS_DATA wins over a spec's data_dir (spec.find_data_root), and many tests write specs with their own
# data_dir: taken out of the environment here, it only says where the `data` fixture finds the benchmark data.
DATA_FROM_ENV = os.environ.pop("XSTILTS_DATA", None)


@pytest.fixture(scope="session")
def data() -> Path:
    root = Path(DATA_FROM_ENV or REPO.parent / "shared" / "data")
    if not root.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"benchmark data not found at {root}: CI must have ../shared/data")
        pytest.skip(f"benchmark data not found at {root} (set XSTILTS_DATA)")
    return root


@pytest.fixture(scope="session")
def me5_dir() -> Path:
    from xstilts.encoders.loading import model_path
    from xstilts.spec import ModelSpec

    return Path(model_path(ModelSpec(name="me5-small")))


@pytest.fixture(scope="session")
def tiny_model_dir(me5_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, hidden-32 random BERT with me5-small's real tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=250037,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=514,
        pad_token_id=1,
    )
    out = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config, add_pooling_layer=False).save_pretrained(out)
    AutoTokenizer.from_pretrained(me5_dir).save_pretrained(out)
    return out
