#!/usr/bin/env bash
# The GPU measurements in one script, on a machine with one CUDA GPU, after `bash bench/gpu/prepare.sh` on a
# machine with the data (bench/gpu/README.md):
#
#   bash bench/gpu/run.sh [PART]     # PART: all (default), fair, quickstart or lora
#
# Steps, each under its own time limit, each going on after one fails; their logs and JSONs go to $OUT:
#   a. like with like (bench/fair.py through bench/run.py --device cuda): one process per part (shape, task), in the
#      order of PARTS below, until the step's share of time is spent; a part stopped at the limit loses only itself
#   b. the quickstart on a random encoder of me5-small's shape, wall clock and per-stage times (kit.py quickstart)
#   c. a LoRA stage on a random encoder of XLM-R XXL's shape, 10.7B (bench/gpu/lora_xxl.py)
# A step that fails (not one that runs out of time) is run again with XSTILTS_COMPILE=0, xstilts' switch that leaves
# the compiled CUDA-graph path out, if time is left: an eager figure is better than none.
#
# $OUT (at most 8 files come back): summary.md, summary.json, fair-cuda.json, quickstart.json, lora_xxl.json,
# nvidia-smi.txt, logs.tar.gz (every log, part and the quickstart's results store). All of them are rewritten after
# every step, so whatever finished comes back even if the call is cut short.
#
# XSTILTS_GPU_KIT_DRY=1: the same steps on a CPU at tiny sizes, to check paths, wheels, data and the summary.
# KIT_BUDGET_S (default 560), KIT_FAIR_S (330), KIT_QUICKSTART_S (120) and KIT_FAIR_PARTS (one part's bench/run.py
# flags per line) change the time shares and the parts.
set -uo pipefail
PART=${1:-all}
case $PART in all | fair | quickstart | lora) ;; *) echo "bench/gpu/run.sh: PART must be all, fair, quickstart or lora, not '$PART'" >&2; exit 2 ;; esac
wants() { [[ $PART == all || $PART == "$1" ]]; }
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
DRY=${XSTILTS_GPU_KIT_DRY:-0}
PY=${PYTHON:-python3}
BUDGET=${KIT_BUDGET_S:-560}  # a 10-minute limit less time to pack the results
FAIR_S=${KIT_FAIR_S:-330}
QUICKSTART_S=${KIT_QUICKSTART_S:-120}
WORK=$(mktemp -d /tmp/xstilts-gpu-kit.XXXXXX)
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT" "$WORK/logs" "$WORK/fair"
T0=$SECONDS

if [[ $DRY == 1 ]]; then
    DEVICE=cpu THREADS=2 DRY_FLAG=--dry
    LORA_ARGS=(--shape tiny --device cpu --steps 3 --batch-size 8)
    PARTS=${KIT_FAIR_PARTS:-"--shapes me5-small --tasks sick --train-examples 32 --reps 1 --dev-steps 0"}
    SITE=$WORK/site  # the wheels are for Python 3.12: installed to check them, not imported by this Python
else
    DEVICE=cuda THREADS=8 DRY_FLAG=
    LORA_ARGS=()
    # XLM-R Large first (the targets are stated for it), 50 steps a run (1,600 examples, batch 32), 3 interleaved
    # repetitions; then XLM-R Base; last Large's dev scores after 139 steps (one epoch of SICK) with 3 seeds, so
    # that Trainer's seed-to-seed spread exists (a part cut at its limit loses only itself).
    PARTS=${KIT_FAIR_PARTS:-"--shapes xlmr-large --tasks sick --reps 3 --dev-steps 0
--shapes xlmr-large --tasks panx --reps 3 --dev-steps 0
--shapes xlmr-base --tasks sick --reps 3 --dev-steps 0
--shapes xlmr-base --tasks panx --reps 3 --dev-steps 0
--shapes xlmr-large --tasks sick --reps 1 --dev-steps 139 --dev-seeds 3"}
    SITE=$REPO/.device/site
    export TORCH_LOGS=${TORCH_LOGS:-recompiles,graph_breaks}  # why a compiled step compiled again, in the logs
fi
export XSTILTS_CACHE=$REPO/.device/cache XSTILTS_DATA=$REPO/.device/data
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1

left() { echo $((BUDGET - (SECONDS - T0))); }

pack() {  # $OUT from $WORK: the step JSONs, the summary, and every small file in one archive
    local name
    for name in fair-cuda quickstart lora_xxl; do
        [[ -f $WORK/$name.json ]] && cp "$WORK/$name.json" "$OUT/"
    done
    "$PY" bench/gpu/kit.py summary "$WORK" "$OUT" >>"$WORK/logs/summary.log" 2>&1
    (cd "$WORK" && find . \( -path ./out -o -path ./site \) -prune -o -type f -size -8M \
        \( -name '*.json' -o -name '*.log' -o -name '*.txt' -o -name '*.yaml' -o -name '*.tsv' -o -name '*.sqlite' \) \
        -print0 | tar -czf "$OUT/logs.tar.gz" --null -T -)
}

STATUS=0
step() {  # step NAME CAP COMMAND...: run under the smaller of CAP and the time left, log to logs/NAME.log
    local name=$1 cap=$2 limit started
    shift 2
    limit=$(( cap < $(left) ? cap : $(left) ))
    if (( limit < 20 )); then
        printf '%s\tskipped (no time left)\t0\t%s\n' "$name" "$limit" >>"$WORK/steps.tsv"
        echo "== $name: skipped, ${limit}s left"
        STATUS=1
        return 1
    fi
    echo "== $name (limit ${limit}s, $(left)s left): $*"
    started=$SECONDS
    timeout -k 10 "$limit" "$@" </dev/null >"$WORK/logs/$name.log" 2>&1
    STATUS=$?
    printf '%s\t%s\t%s\t%s\n' "$name" "$STATUS" $((SECONDS - started)) "$limit" >>"$WORK/steps.tsv"
    echo "   exit $STATUS after $((SECONDS - started))s"
    tail -n 4 "$WORK/logs/$name.log" | sed 's/^/   | /'
    pack
    return "$STATUS"
}

failed_fast() { (( STATUS != 0 && STATUS != 124 && STATUS != 137 && $(left) > 60 )); }

# --- setup: wheels, versions, the GPU -----------------------------------------------------------------------------
step install 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --target "$SITE" "$REPO"/.device/wheels/*.whl
if [[ $DRY == 1 ]]; then
    export PYTHONPATH=$REPO/src${PYTHONPATH:+:$PYTHONPATH}
else
    export PYTHONPATH=$REPO/src:$SITE${PYTHONPATH:+:$PYTHONPATH}
fi
(nvidia-smi || echo "no nvidia-smi here") >"$OUT/nvidia-smi.txt" 2>&1
cp "$OUT/nvidia-smi.txt" "$WORK/logs/"
step versions 60 "$PY" bench/gpu/kit.py versions "$WORK/versions.json"

# --- a. like with like -----------------------------------------------------------------------------------------
# After a part fails with compilation on, the later parts run without it (they would fail the same way).
EAGER=()
FAIR_END=$((SECONDS + FAIR_S))
i=0
while IFS= read -r part; do
    [[ -n $part ]] || continue
    i=$((i + 1))
    # shellcheck disable=SC2086  # a part is a list of flags
    step "fair-$i" $((FAIR_END - SECONDS)) "${EAGER[@]}" "$PY" bench/run.py --device "$DEVICE" --no-write \
        --threads "$THREADS" --results-dir "$WORK/fair/part-$i" $part
    if failed_fast && (( ${#EAGER[@]} == 0 )) && [[ $DEVICE == cuda ]]; then
        EAGER=(env XSTILTS_COMPILE=0)
        # shellcheck disable=SC2086
        step "fair-$i-eager" $((FAIR_END - SECONDS)) "${EAGER[@]}" "$PY" bench/run.py --device "$DEVICE" \
            --no-write --threads "$THREADS" --results-dir "$WORK/fair/part-$i-eager" $part
    fi
    parts=("$WORK"/fair/part-*/latest-fair-"$DEVICE".json)
    [[ -f ${parts[0]} ]] && "$PY" bench/gpu/kit.py merge-fair "$WORK/fair-cuda.json" "${parts[@]}" && pack
done <<<"$(wants fair && echo "$PARTS")"

# --- b. the quickstart on a random encoder of me5-small's shape ---------------------------------------------------
wants quickstart && step quickstart "$QUICKSTART_S" "$PY" bench/gpu/kit.py quickstart "$WORK/quickstart" "$WORK/quickstart.json" $DRY_FLAG
if wants quickstart && failed_fast && [[ $DEVICE == cuda ]]; then
    step quickstart-eager "$QUICKSTART_S" env XSTILTS_COMPILE=0 "$PY" bench/gpu/kit.py quickstart \
        "$WORK/quickstart-eager" "$WORK/quickstart-eager.json"
fi
rm -rf "$WORK"/quickstart*/model  # 470 MB of random weights

# --- c. LoRA on XLM-R XXL's shape: eager first, then the loop's own (compiled) path, in one process ----------------
wants lora && step lora_xxl "$(left)" "$PY" bench/gpu/lora_xxl.py --out "$WORK/lora_xxl.json" "${LORA_ARGS[@]}"

pack
echo "== done in $((SECONDS - T0))s; results in $OUT"
cat "$OUT/summary.md"
