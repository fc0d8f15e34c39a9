"""How long a child stage takes to get its parent's encoder from disk, and its peak memory: the pretrained model
loaded whole and then overwritten (before) against the encoder built from the config with the parent's tensors,
reading from the pretrained files only the tensors the parent left frozen (xstilts.encoders.loading
.encoder_with_weights).

    python bench/stage_load.py [--shape large|base|small] [--rounds 3]

A random encoder of XLM-R's shape (weights do not matter for loading) is written once to a temporary folder, with
a parent checkpoint that froze the word embeddings (what `freeze_embeddings: true` saves). Each measurement runs
in a fresh process (peak RSS is per process), the two ways interleaved; files are in the page cache after the
first round, so the figures are warm-cache loads."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPES = {  # XLM-R's published shapes; vocabulary 250,002
    "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "small": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 1536},
}
WORDS = "embeddings.word_embeddings.weight"


def write_model(folder: Path, shape: str) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(vocab_size=250002, max_position_embeddings=514, type_vocab_size=1, **SHAPES[shape])
    with torch.device("meta"):
        model = XLMRobertaModel(config, add_pooling_layer=False)
    model = model.to_empty(device="cpu")
    for param in model.parameters():
        torch.nn.init.normal_(param, std=0.02)
    model.save_pretrained(folder / "model")
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != WORDS}
    save_file(state, folder / "parent.safetensors")


def measure(folder: Path, way: str) -> dict[str, float]:
    import resource

    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoTokenizer  # noqa: F401 (imported before the clock starts)
    from transformers.models.xlm_roberta import modeling_xlm_roberta  # noqa: F401

    from xstilts.encoders.loading import encoder_with_weights, load_checked, load_encoder
    from xstilts.spec import ModelSpec

    spec = ModelSpec(name=str(folder / "model"))
    torch.set_num_threads(2)
    started = time.perf_counter()
    state = load_file(folder / "parent.safetensors")
    if way == "overwrite":
        encoder = load_encoder(spec)
        load_checked(encoder, state, {WORDS}, "bench")
    else:
        encoder = encoder_with_weights(spec, state, {WORDS}, "bench")
    seconds = time.perf_counter() - started
    assert encoder.get_input_embeddings().weight.shape[0] == 250002
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="large")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("FOLDER", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), args.measure[1])))
        return
    with tempfile.TemporaryDirectory(prefix="stage-load-") as tmp:
        folder = Path(tmp)
        write_model(folder, args.shape)
        results: dict[str, list[dict[str, float]]] = {"overwrite": [], "from_config": []}
        for _ in range(args.rounds + 1):  # the first round warms the page cache and is dropped
            for way in results:
                out = subprocess.run(
                    [sys.executable, __file__, "--measure", str(folder), way],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[way].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"XLM-R {args.shape} shape, {args.rounds} rounds after one warm-up round (fresh process each):")
    for way, runs in results.items():
        seconds = [r["seconds"] for r in runs[1:]]
        rss = [r["peak_rss_mb"] for r in runs[1:]]
        print(
            f"  {way:12s} median {statistics.median(seconds):6.2f} s (range {min(seconds):.2f}-{max(seconds):.2f}), "
            f"peak RSS median {statistics.median(rss):,.0f} MB"
        )


if __name__ == "__main__":
    main()
