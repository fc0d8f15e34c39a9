"""Evaluation with the Linear weights cast to bf16 once per call (what xstilts.training.evaluate does on a GPU)
against autocast casting them for every batch (what it does on a CPU): the same batches, model, kernels and
autocast, interleaved repetitions; on this machine's device, whichever it is.

    python bench/eval_casts.py [--reps 5] [--threads 2]

me5-small with a new head on the English dev sets of SICK (495 pairs) and PAN-X (first 1,000 sentences), batch
64, length-sorted as predict sorts them. The predictions of the two ways are checked to be identical."""

from __future__ import annotations

import argparse
import time

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    common.setup_env(args.threads)
    import torch

    from xstilts.tasks import REGISTRY
    from xstilts.training import evaluate

    chosen = evaluate.casts_weights_once  # the device's choice (a GPU casts once); here both ways are forced
    ways = {"cast once per call": True, "cast every batch": False}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 autocast, batch 64")
    for task_name, limit in (("sick", None), ("panx", 1000)):
        task, tok = REGISTRY[task_name], common.tokenizer()
        model = common.build_model(task_name, 1)
        features = model.fmt.encode(common.examples(task_name, "dev", limit), tok, task, 512)
        real = sum(f.length for f in features)
        ordered = sorted(f.length for f in features)
        padded = sum(max(ordered[i : i + 64]) * len(ordered[i : i + 64]) for i in range(0, len(ordered), 64))
        times: dict[str, list[float]] = {name: [] for name in ways}
        predictions = {}
        for _ in range(args.reps):
            for name, once in ways.items():
                evaluate.casts_weights_once = lambda device, once=once: once
                started = time.perf_counter()
                predictions[name] = evaluate.predict(model, task, features, 64, tok.pad_token_id, True)
                times[name].append(time.perf_counter() - started)
        evaluate.casts_weights_once = chosen
        assert predictions["cast once per call"] == predictions["cast every batch"]
        print(f"{task_name}: {len(features)} features, {real} real / {padded} padded tokens, identical predictions")
        print("\n".join(common.median_lines(times, "cast every batch", {"real": real, "padded": padded})))


if __name__ == "__main__":
    main()
