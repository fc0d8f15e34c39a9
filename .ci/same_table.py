"""Check that the quickstart's log ends with the table the README shows (its first fenced block that draws a rich
table). Its shape must match: the same title, conditions and languages, line for line (exit 1 otherwise). Its numbers
are compared too, but a difference only warns: they are the README's measurement on one CPU (bf16 autocast where the
CPU runs bf16 natively), and another CPU may round differently."""

import difflib
import re
import sys
from pathlib import Path


def readme_table(text: str) -> list[str]:
    blocks = text.split("```")[1::2]
    table = next(b for b in blocks if "┏" in b)
    return [line.rstrip() for line in table.strip("\n").splitlines()]


def log_table(text: str, height: int) -> list[str]:
    lines = [line.rstrip() for line in text.rstrip("\n").splitlines()]
    tops = [i for i, line in enumerate(lines) if "┏" in line]
    if not tops:
        sys.exit("the quickstart printed no table")
    start = tops[-1] - 1  # the title is the line above the table's top
    return lines[start : start + height]


def shape(lines: list[str]) -> list[str]:
    return [re.sub(r"[-+]?\d+\.\d", "#", line) for line in lines]


readme = readme_table(Path(sys.argv[1]).read_text(encoding="utf-8"))
printed = log_table(Path(sys.argv[2]).read_text(encoding="utf-8"), len(readme))
diff = list(difflib.unified_diff([f"{x}\n" for x in readme], [f"{x}\n" for x in printed], "README", "run"))
if shape(printed) != shape(readme):
    sys.stdout.writelines(diff)
    sys.exit("the quickstart's table does not have the README's shape")
if diff:
    sys.stdout.writelines(diff)
    print("warning: the quickstart's numbers differ from the README's (another CPU?)")
else:
    print("the quickstart printed the README's table")
