"""xstilts: intermediate-task training for zero-shot cross-lingual transfer (Phang et al. 2020)."""

__version__ = "0.1.0"
