"""Static-shape length buckets: every batch padded up to one of a few lengths.

A GPU step captured as a CUDA graph (torch.compile's "reduce-overhead") replays only for the shapes it was
captured with: with dynamic padding nearly every batch is a new width, so every step would capture again.
Padding each batch up to the next multiple of BUCKET tokens (never past the batch's own limit) leaves
max_length / BUCKET widths, e.g. 4 at max_length 128. The extra positions are padding like any other: the
attention mask hides them, and per-token labels there are ignored (-100, the ignore_index of every format's
cross-entropy), so the results do not change. The CPU keeps dynamic padding: it has no graphs to replay, and
padding costs it arithmetic."""

from __future__ import annotations

import math
from typing import Any

import torch

BUCKET = 32  # tokens; XLM-R's largest eval length, 512, gives 16 widths
IGNORE = -100  # torch's default ignore_index, which the per-token losses use for padding

# What each padded position holds, per collated key of the same shape as input_ids; a batch with any other
# tensor of that shape is left as it is.
_FILL = {"attention_mask": 0, "token_type_ids": 0, "labels": IGNORE}


def bucket_width(width: int, limit: int, bucket: int = BUCKET) -> int:
    """The bucket a batch of `width` tokens is padded to: the next multiple of `bucket`, at most `limit`
    (a batch already wider than `limit` keeps its width)."""
    return max(width, min(math.ceil(width / bucket) * bucket, limit))


def pad_to_bucket(batch: dict[str, Any], pad_id: int, limit: int, bucket: int = BUCKET) -> dict[str, Any]:
    """The collated batch with its token dimension (the last of input_ids) padded up to its bucket."""
    ids = batch["input_ids"]
    width = ids.shape[-1]
    target = bucket_width(width, limit, bucket)
    same_shape = [k for k, v in batch.items() if isinstance(v, torch.Tensor) and v.shape == ids.shape]
    if target == width or any(k != "input_ids" and k not in _FILL for k in same_shape):
        return batch
    fills = {"input_ids": pad_id, **_FILL}
    extra = target - width
    return {
        k: torch.nn.functional.pad(v, (0, extra), value=fills[k]) if k in same_shape else v for k, v in batch.items()
    }
