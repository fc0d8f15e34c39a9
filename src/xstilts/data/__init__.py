"""Where benchmark data lives on a user's machine: the small quickstart pack shipped inside the package, the data
directory under $XSTILTS_CACHE (where a user puts the full benchmarks), and the rule that picks one when a command
is given no data directory (home.py)."""
