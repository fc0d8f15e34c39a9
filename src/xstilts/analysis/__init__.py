"""The statistics the report (report/) and the similarity analysis (similarity/) share, below both so that neither
imports the other: stats.py (percentile bootstraps over seeds and examples, paired permutation tests, Holm),
sign_flip.py (the exact sign-flip test over per-seed gains), compare.py (a condition against the baseline, per
target and language, with all of these)."""
