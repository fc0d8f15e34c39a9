"""Scores read from a results store: tables.py (`xstilts results`: conditions x languages, deltas over the
baseline), benchmarks.py (XTREME, XTREME-R and XGLUE scores combined as their official scripts do, for `xstilts
score`), predictions.py (`xstilts score-predictions`: any system's predictions scored with the official metric)."""
