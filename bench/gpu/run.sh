#!/usr/bin/env bash
# The GPU measurements, on a machine with one CUDA GPU, after `bash bench/gpu/prepare.sh` on a machine with the
# data (bench/gpu/README.md). One part per call, each meant to finish in about 8 minutes:
#
#   bash bench/gpu/run.sh PART     # PART: base, large, quickstart, lora_xxl, same_quality, or all (one after another)
#
#   base, large    steady-state training steps of xstilts' loop on random XLM-R Base / Large shapes, SICK and PAN-X,
#                  batch 32 (embedding rows lazy, dense, frozen) and 128 (bench/gpu/parts.py)
#   quickstart     the quickstart on a random encoder of me5-small's shape: wall clock, per-stage times and counters
#                  (kit.py quickstart)
#   lora_xxl       a LoRA stage on a random encoder of XLM-R XXL's shape, 10.7B, bf16 frozen weights (lora_xxl.py)
#   same_quality   dev scores of XLM-R Large on SICK after one epoch, xstilts against Trainer, 3 seeds (bench/fair.py)
#
# Every result separates the compile time and the first step from the steady-state seconds per step (measured from
# step timestamps after a warm-up; bench/gpu/steps.py) and holds the inductor counters. Encoders are built on the
# meta device and materialised on the GPU. A part that fails (not one that runs out of time) runs again with
# XSTILTS_COMPILE=0, xstilts' switch that leaves the compiled CUDA-graph path out, if time is left.
#
# $OUT: summary.md, summary.json, the part's JSON, nvidia-smi.txt, logs.tar.gz (every log), rewritten after every
# step, so whatever finished is kept if the run is cut short.
#
# XSTILTS_GPU_KIT_DRY=1: the same parts on a CPU at tiny shapes (--device cpu), to check paths, data and summary.
# KIT_BUDGET_S (default 470 per part) bounds a call.
set -uo pipefail
PART=${1:-all}
PARTS_ALL="base large quickstart lora_xxl same_quality"
case $PART in all | base | large | quickstart | lora_xxl | same_quality) ;;
    *) echo "bench/gpu/run.sh: PART must be one of: $PARTS_ALL, all; not '$PART'" >&2; exit 2 ;;
esac
wants() { [[ $PART == all || $PART == "$1" ]]; }
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
DRY=${XSTILTS_GPU_KIT_DRY:-0}
PY=${PYTHON:-python3}
if [[ $PART == all ]]; then BUDGET=${KIT_BUDGET_S:-2350}; else BUDGET=${KIT_BUDGET_S:-470}; fi
WORK=$(mktemp -d /tmp/xstilts-gpu-kit.XXXXXX)
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT" "$WORK/logs" "$WORK/fair"
T0=$SECONDS

if [[ $DRY == 1 ]]; then
    DEVICE=cpu THREADS=2 DRY_FLAG=--dry
    LORA_ARGS=(--shape tiny --device cpu --steps 3 --batch-size 8 --warmup 1)
    STEP_ARGS=(--shape tiny --device cpu --steps 6 --warmup 2 --read-every 2 --tasks sick --runs 8:lazy,8:frozen
        --train-examples 64)
    SQ_ARGS=(--shapes tiny --tasks sick --reps 0 --dev-steps 2 --dev-seeds 2 --dev-start random --embeddings trained)
    SITE=$WORK/site  # the wheels are for Python 3.12: installed to check them, not imported by this Python
else
    DEVICE=cuda THREADS=8 DRY_FLAG=
    LORA_ARGS=()
    STEP_ARGS=(--device cuda)
    # One epoch of SICK (139 steps of 32) with 3 seeds, so that Trainer's seed-to-seed spread exists.
    SQ_ARGS=(--shapes xlmr-large --tasks sick --reps 0 --dev-steps 139 --dev-seeds 3)
    SITE=$REPO/.device/site
    export TORCH_LOGS=${TORCH_LOGS:-recompiles,graph_breaks,cudagraphs}  # why a step compiled or a graph was skipped
fi
export XSTILTS_CACHE=$REPO/.device/cache XSTILTS_DATA=$REPO/.device/data
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1

left() { echo $((BUDGET - (SECONDS - T0))); }

pack() {  # $OUT from $WORK: the step JSONs, the summary, and every small file in one archive
    local name
    for name in base large quickstart quickstart-eager lora_xxl fair-cuda; do
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

# --- the parts -----------------------------------------------------------------------------------------------------
part_steps() {  # base or large: steady-state steps (bench/gpu/parts.py)
    local name=$1 shape=$2
    step "$name" "$(left)" "$PY" bench/gpu/parts.py --shape "$shape" "${STEP_ARGS[@]}" --out "$WORK/$name.json"
    if failed_fast && [[ $DEVICE == cuda ]]; then
        step "$name-eager" "$(left)" env XSTILTS_COMPILE=0 "$PY" bench/gpu/parts.py --shape "$shape" \
            "${STEP_ARGS[@]}" --out "$WORK/$name-eager.json"
    fi
}

for part in $PARTS_ALL; do
    wants "$part" || continue
    case $part in
    base) part_steps base xlmr-base ;;
    large) part_steps large xlmr-large ;;
    quickstart)
        step quickstart "$(left)" "$PY" bench/gpu/kit.py quickstart "$WORK/quickstart" "$WORK/quickstart.json" $DRY_FLAG
        if failed_fast && [[ $DEVICE == cuda ]]; then
            step quickstart-eager "$(left)" env XSTILTS_COMPILE=0 "$PY" bench/gpu/kit.py quickstart \
                "$WORK/quickstart-eager" "$WORK/quickstart-eager.json"
        fi
        rm -rf "$WORK"/quickstart*/model  # 470 MB of random weights
        ;;
    lora_xxl) step lora_xxl "$(left)" "$PY" bench/gpu/lora_xxl.py --out "$WORK/lora_xxl.json" "${LORA_ARGS[@]}" ;;
    same_quality)
        step same_quality "$(left)" "$PY" bench/run.py --device "$DEVICE" --no-write --threads "$THREADS" \
            --results-dir "$WORK/fair/part-1" "${SQ_ARGS[@]}"
        parts=("$WORK"/fair/part-*/latest-fair-"$DEVICE"-quality.json)  # a dev-scores-only run
        [[ -f ${parts[0]} ]] && "$PY" bench/gpu/kit.py merge-fair "$WORK/fair-cuda.json" "${parts[@]}"
        ;;
    esac
    pack
done

pack
echo "== done in $((SECONDS - T0))s; results in $OUT"
cat "$OUT/summary.md"
