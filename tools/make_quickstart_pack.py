"""Rebuild src/xstilts/data/pack/ (the quickstart's data inside the package) from a full benchmark directory.

    python tools/make_quickstart_pack.py FULL_DATA_DIR

For every (task, split, language) that examples/quickstart.yaml reads, the pack holds exactly the rows its seeded
subset draws from the full files (tasks.loading.subsample with the spec's data_seed), in file order, and nothing
else, in the same file formats and paths. A subset that is the whole pool is returned unchanged, so on the pack the
quickstart trains and evaluates on the very examples it draws from the full data, and prints the same table. The
script checks that before it writes anything. It also keeps SICK's TRIAL rows (its dev split, 495 pairs), so that
`selection: best_dev` on SICK works from the pack. Maintainers run it; users never need it."""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from xstilts.data.home import PACK
from xstilts.spec import load_spec
from xstilts.tasks import REGISTRY as TASKS
from xstilts.tasks.loading import load_examples, split_files, subsample

SPEC = Path(__file__).resolve().parent.parent / "examples" / "quickstart.yaml"


def _units(path: Path) -> tuple[list[str], list[str]]:
    """(header lines, units): the file cut into the pieces its reader turns into one example each, raw text kept."""
    with path.open(encoding="utf-8", newline="") as f:
        text = f.read()
    if path.suffix == ".tsv":  # token-tag TSV: sentences between blank lines
        blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
        return [], [b.strip("\n") + "\n" for b in blocks]
    rows = text.splitlines(keepends=True)
    end = "\r\n" if "\r\n" in text else "\n"
    rows = [r if r.endswith("\n") else r + end for r in rows]  # the last line may lack its line end
    if path.name == "SICK.txt":
        return rows[:1], rows[1:]
    return [], rows  # JSONL: a line each


def _draws(spec) -> dict[tuple[str, str, str], int | None]:
    """(task, split, language) -> how many examples the quickstart draws from it (None: all)."""
    draws: dict[tuple[str, str, str], int | None] = {}
    for stages in spec.intermediate.values():
        for stage in stages:
            draws[(stage.task, "train", "en")] = stage.max_train_examples
    for target in spec.targets:
        task = TASKS[target.task]
        draws[(target.task, task.train_split, "en")] = target.max_train_examples
        for lang in target.eval_languages:
            draws[(target.task, task.eval_split, lang)] = target.max_eval_examples
    draws[("sick", "dev", "en")] = None
    return draws


def plan_pack(full: Path) -> tuple[dict[Path, list[int]], dict[tuple[str, str, str], list]]:
    """(relative path -> indices of the units the pack keeps, (task, split, language) -> the examples the quickstart
    draws from the full data)."""
    spec = load_spec(SPEC)
    keep: dict[Path, set[int]] = defaultdict(set)
    selected: dict[tuple[str, str, str], list] = {}
    for (name, split, lang), limit in _draws(spec).items():
        task = TASKS[name]
        examples = load_examples(task, split, lang, full)
        selected[(name, split, lang)] = subsample(examples, limit, spec.data_seed)
        chosen = {id(e) for e in selected[(name, split, lang)]}
        offset = 0  # the split's examples run through its files in order
        for path in split_files(task, split, lang, full):
            header, units = _units(path)
            rel = path.relative_to(full)
            if name == "sick":  # one file holds every split: unit i is an example of this split only if it says so
                column = header[0].rstrip("\r\n").split("\t").index("SemEval_set")
                want = {"train": "TRAIN", "dev": "TRIAL", "test": "TEST"}[split]
                mine = [i for i, u in enumerate(units) if u.rstrip("\r\n").split("\t")[column] == want]
            else:
                mine = list(range(len(units)))
            for j, i in enumerate(mine):
                if id(examples[offset + j]) in chosen:
                    keep[rel].add(i)
            offset += len(mine)
        if offset != len(examples):
            raise SystemExit(f"{name} {split} {lang}: {offset} units for {len(examples)} examples")
    return {rel: sorted(indices) for rel, indices in keep.items()}, selected


def mismatches(pack: Path, selected: dict[tuple[str, str, str], list]) -> list[str]:
    """The (task, split, language) reads on which `pack` does not give back the full data's subset."""
    seed = load_spec(SPEC).data_seed
    wrong = []
    for (name, split, lang), wanted in selected.items():
        if subsample(load_examples(TASKS[name], split, lang, pack), len(wanted), seed) != wanted:
            wrong.append(f"{name} {split} {lang}")
    return wrong


def main(full: Path) -> None:
    keep, selected = plan_pack(full)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "pack"
        for rel, indices in sorted(keep.items()):
            header, units = _units(full / rel)
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            sep = "\n" if rel.suffix == ".tsv" else ""
            with (staged / rel).open("w", encoding="utf-8", newline="") as f:
                f.write("".join(header) + sep.join(units[i] for i in indices))
        wrong = mismatches(staged, selected)
        if wrong:
            raise SystemExit(f"the pack does not read back as the full data's subsets: {', '.join(wrong)}")
        sums = "".join(f"{hashlib.sha256((staged / rel).read_bytes()).hexdigest()}  {rel}\n" for rel in sorted(keep))
        (staged / "SHA256SUMS").write_text(sums)
        for old in ("english", "xtreme"):
            shutil.rmtree(PACK / old, ignore_errors=True)
        for top in staged.iterdir():
            if top.is_dir():
                shutil.copytree(top, PACK / top.name)
        shutil.copy(staged / "SHA256SUMS", PACK / "SHA256SUMS")
    for rel, indices in sorted(keep.items()):
        print(f"{rel}: {len(indices)} units")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
