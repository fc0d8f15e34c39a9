"""Linear centred kernel alignment (Kornblith et al. 2019, "Similarity of Neural Network Representations
Revisited", eq. for linear CKA): for representations X (n x p) and Y (n x q) of the same n inputs, with every column
centred, CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F). It lies in [0, 1], is 1 for identical representations, and
is invariant to orthogonal transforms and isotropic scaling of either side (not to arbitrary invertible maps)."""

from __future__ import annotations

import numpy as np


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same inputs on both sides, got {x.shape[0]} and {y.shape[0]} rows")
    x = np.asarray(x, dtype=np.float64) - x.mean(axis=0)
    y = np.asarray(y, dtype=np.float64) - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x) ** 2
    norms = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norms) if norms > 0 else 0.0
