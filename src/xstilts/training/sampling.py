"""Multi-task sampling: the probability that a batch comes from each task, from the tasks' sizes.

With n_i training examples in task i and K tasks:
    proportional  p_i = n_i / sum_j n_j
    temperature   p_i ~ n_i^(1/T)        (T = 1 is proportional, T -> infinity is uniform; Arivazhagan et al. 2019)
    uniform       p_i = 1 / K
    capped        p_i ~ min(n_i, cap)    (size-capped "examples-proportional mixing", Raffel et al. 2020)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def task_probabilities(sizes: Mapping[str, int], sampler: Mapping[str, Any]) -> dict[str, float]:
    kind = sampler.get("kind", "proportional")
    weights = {
        "proportional": lambda n: float(n),
        "temperature": lambda n: float(n) ** (1.0 / sampler["temperature"]),
        "uniform": lambda n: 1.0,
        "capped": lambda n: float(min(n, sampler["cap"])),
    }[kind]
    raw = {task: weights(n) for task, n in sizes.items()}
    total = sum(raw.values())
    return {task: w / total for task, w in raw.items()}
