"""`xstilts data check DIR`: which declared tasks, splits and languages DIR holds (a split and language count when
every file its declaration names is there), and whether files match the manifest's pins or, where there is no
pin, what the fetch that wrote them recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xstilts.data.download import sha256_of
from xstilts.data.manifest import Manifest, load_manifest, load_record
from xstilts.tasks import REGISTRY


@dataclass(frozen=True)
class Holding:
    task: str
    split: str
    present: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass
class Verdict:
    pinned_ok: int = 0
    recorded_ok: int = 0
    unverified: int = 0  # files the tasks read that neither the manifest nor a fetch record knows
    bad: list[str] = field(default_factory=list)  # "path: why"


def holdings(root: Path) -> list[Holding]:
    found = []
    for task in REGISTRY.values():
        for split, declared in task.splits.items():
            present = tuple(
                lang for lang in declared.languages if all((root / p).is_file() for p in declared.paths(lang))
            )
            if present:
                missing = tuple(lang for lang in declared.languages if lang not in present)
                found.append(Holding(task.name, split, present, missing))
    return found


def read_files(root: Path, held: list[Holding]) -> set[str]:
    """Every declared file of what DIR holds, relative to it."""
    files = set()
    for holding in held:
        split = REGISTRY[holding.task].splits[holding.split]
        for lang in holding.present:
            files.update(split.paths(lang))
    return files


def verify(root: Path, files: set[str], manifest: Manifest | None = None) -> Verdict:
    """Pinned files against the manifest; other files a fetch wrote against its record; a recorded file that is
    gone is bad too (a fetch that did not finish, or a file deleted since)."""
    manifest = manifest or load_manifest()
    record = load_record(root)
    verdict = Verdict()
    for relative in sorted(files | set(record.files)):
        path = root / relative
        pin, recorded = manifest.files.get(relative), record.files.get(relative)
        if pin is None and recorded is None:
            verdict.unverified += 1
            continue
        if not path.is_file():
            verdict.bad.append(f"{relative}: recorded by fetch, but missing")
            continue
        digest = sha256_of(path)
        if pin is not None:
            if digest == pin.sha256:
                verdict.pinned_ok += 1
            else:
                verdict.bad.append(
                    f"{relative}: sha256 {digest[:12]}... differs from the manifest's pin {pin.sha256[:12]}..."
                )
        elif digest == recorded.sha256:
            verdict.recorded_ok += 1
        else:
            verdict.bad.append(
                f"{relative}: changed since fetch wrote it "
                f"(sha256 {digest[:12]}..., recorded {recorded.sha256[:12]}...)"
            )
    return verdict
