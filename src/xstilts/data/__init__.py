"""Where benchmark data lives on a user's machine: the small quickstart pack shipped inside the package, the
directory `xstilts data fetch` fills under $XSTILTS_CACHE, and the rule that picks one when a command is given
no data directory (home.py)."""
