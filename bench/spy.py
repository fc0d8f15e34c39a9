"""Profile one benchmark measurement (or any command) with py-spy and print where the time goes.

    python bench/spy.py train '{"task": "sick", "impl": "xstilts", "n_train": 256}'
    python bench/spy.py --cmd -- python -m xstilts.cli run SPEC --out DIR

Samples at 100 Hz, including native frames of torch's C++ (--native), and prints the functions with the largest
inclusive share of samples, grouped by `file:function` (Python) or symbol (native). The raw collapsed stacks are
kept under bench/results/profiles/ for a flame graph (e.g. https://www.speedscope.app).

Needs py-spy (`pip install py-spy`).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def summarise(raw: Path, top: int, match: str | None) -> str:
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    self_time: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] += n
        self_time[frames[-1]] += n
    pattern = re.compile(match) if match else None
    rows = [f"{total} samples", "", "inclusive  self   function"]
    for name, n in inclusive.most_common():
        if pattern and not pattern.search(name):
            continue
        rows.append(f"{100 * n / total:8.1f}% {100 * self_time[name] / total:5.1f}%  {name}")
        if len(rows) >= top + 3:
            break
    return "\n".join(rows)


def _name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; keep file and function, drop the line.
    m = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not m:
        return frame
    func, path = m.groups()
    parts = Path(path).parts
    short = "/".join(parts[parts.index("site-packages") + 1 :]) if "site-packages" in parts else "/".join(parts[-3:])
    return f"{short}:{func}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", nargs="?", help="a bench/measure.py kind (train, predict, tatoeba, ...)")
    ap.add_argument("params", nargs="?", default="{}", help="its JSON parameters")
    ap.add_argument("--cmd", nargs=argparse.REMAINDER, help="profile this command instead")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--match", help="only show functions matching this regular expression")
    ap.add_argument("--native", action="store_true", help="include native (C/C++) frames")
    args = ap.parse_args()
    if shutil.which("py-spy") is None:
        sys.exit("py-spy is not installed: pip install py-spy")
    out_dir = HERE / "results" / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if args.cmd:
        command = [c for c in args.cmd if c != "--"]
        raw = out_dir / f"cmd-{stamp}.txt"
    else:
        if not args.kind:
            ap.error("give a measurement kind or --cmd")
        result = Path(tempfile.mkstemp(suffix=".json")[1])
        command = [sys.executable, str(HERE / "measure.py"), args.kind, "--params", args.params, "--out", str(result)]
        raw = out_dir / f"{args.kind}-{stamp}.txt"
    spy = [
        "py-spy",
        "record",
        "-r",
        "100",
        "-f",
        "raw",
        "-o",
        str(raw),
        *(["--native"] if args.native else []),
        "--",
        *command,
    ]
    subprocess.run(spy, check=True)
    print(summarise(raw, args.top, args.match))
    if not args.cmd:
        data = json.loads(result.read_text())
        print("\nmeasurement:", json.dumps({k: v for k, v in data.items() if isinstance(v, (int, float, str))}))
    print(f"\nraw stacks: {raw.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
