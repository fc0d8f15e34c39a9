"""The quickstart's data inside the package (src/xstilts/data/pack): small, documented, intact, found with no data
directory given, and exactly the examples the quickstart draws from the full data."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from xstilts.data.home import PACK
from xstilts.tasks import REGISTRY
from xstilts.tasks.loading import load_examples

REPO = Path(__file__).resolve().parents[2]


def _builder():
    spec = importlib.util.spec_from_file_location("make_quickstart_pack", REPO / "tools" / "make_quickstart_pack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files() -> list[Path]:
    return sorted(p for p in PACK.rglob("*") if p.is_file() and p.parent != PACK)


def test_the_pack_is_small_and_every_file_is_in_its_checksums_and_notice():
    files = _files()
    assert files, "the pack is empty"
    assert sum(p.stat().st_size for p in files) < 5 * 2**20
    sums = dict(reversed(line.split("  ", 1)) for line in (PACK / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {str(p.relative_to(PACK)) for p in files}
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[str(path.relative_to(PACK))], path
    notice = (PACK / "NOTICE.md").read_text()
    for folder in {p.parent.relative_to(PACK) for p in files}:
        assert f"`{folder}/" in notice, f"NOTICE.md says nothing of {folder}"
    for licence in ("CC BY-NC-SA 3.0", "CC BY 4.0", "CC BY-SA 3.0"):
        assert licence in notice


def test_the_pack_gives_the_quickstart_the_examples_it_draws_from_the_full_data(data: Path):
    builder = _builder()
    keep, selected = builder.plan_pack(data)
    assert {str(rel) for rel in keep} == {str(p.relative_to(PACK)) for p in _files()}
    assert builder.mismatches(PACK, selected) == []
    # a prefix of the full files would not do: the quickstart's seeded subset of 300 is not the first 300
    full_dev = load_examples(REGISTRY["panx"], "dev", "de", data)
    assert selected[("panx", "dev", "de")] != full_dev[:300] and len(selected[("panx", "dev", "de")]) == 300


def test_with_no_data_directory_anywhere_the_quickstart_plans_on_the_pack(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "XSTILTS_DATA"}
    env["XSTILTS_CACHE"] = str(tmp_path / "cache")  # nothing fetched there
    (tmp_path / "cache").mkdir()
    # me5-small is converted on first use; the plan needs only its config, so point the cache at the tests' copy
    models = REPO / ".cache" / "models"
    if models.is_dir():
        (tmp_path / "cache" / "models").symlink_to(models)
    done = subprocess.run(
        [sys.executable, "-m", "xstilts.cli", "plan", str(REPO / "examples" / "quickstart.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "train panx en n=2000" in done.stdout and "evaluate panx (10 languages)" in done.stdout
    assert "shared" not in (REPO / "examples" / "quickstart.yaml").read_text()
