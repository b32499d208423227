#!/usr/bin/env bash
# The GPU check (issue 24, item 4): on one NVIDIA GPU, in about 8 minutes, build autoreg in
# release and exercise its CUDA paths, each step under its own `timeout`:
#
#   build        cargo build --release -p autoreg -p autoreg-bench --bin autoreg --bin dist_speed
#   train-bf16   configs/shakespeare-char.toml as shipped (2,000 steps), train.device=cuda,
#                train.precision=bf16; its final validation loss and tokens/s
#   sample       autoreg sample --device cuda --decoder native | libtorch on that run, at
#                batch 1 and 8, 64 and 2,048 new tokens: new tokens/s past start-up
#   dist-speed   dist_speed --nproc 1 --device cuda --steps 50: all-reduce on NCCL, one rank
#   cuda-memory  the trainer's CUDA memory check (check_memory in autoreg-train: it
#                allocates its estimate once) must refuse a batch of 1,000,000 windows
#                before training; and nvidia-smi's memory.used at its peak while
#                train-bf16 ran (sampled twice a second for the whole check)
#   nanogpt      nanoGPT's GPU recipe for shakespeare-char (6 x 384, 6 heads, block 256,
#                batch 64, dropout 0.2, lr 1e-3, learned positions, GELU, no soft cap,
#                5,000 steps at most, evaluated every 250 steps on 200 batches) for the
#                time left (train.max_time); the training seconds at which the validation
#                loss first reached 1.47, if it did; its peak memory.used
#
#   bash examples/gpu-check.sh
#
# It writes one summary, $OUT/gpu-check-summary.txt when OUT is set, else
# out/gpu-check-summary.txt, a line per step: its status (ok, failed rc=N, timed out,
# skipped), its wall time and its key figure; each step's whole log is beside it
# (gpu-check-<step>.log: eight files in all, with the summary). The runs go to
# runs/gpu-check/<date>-<pid>/ (a new folder each time; nothing is deleted).
# Exit status: 0 every step ok; 1 some step not ok (the others still ran); 3 no CUDA
# device (checked with nvidia-smi first, before anything is built); 4 nothing to build
# with (no cargo, or no libtorch 2.13.0 and no network to install one).
#
# What it assumes of the machine:
# - an NVIDIA GPU that `nvidia-smi -L` lists, and GNU coreutils' `timeout`;
# - the Rust toolchain (cargo) with the crates it needs (network to crates.io, or a
#   filled ~/.cargo/registry); with no cargo, release binaries already in target/ whose
#   libtorch is found are used as they are;
# - libtorch 2.13.0 with CUDA (tch 0.26 is built against it), first found of: $LIBTORCH;
#   .venv/libtorch (a `cargo setup` done before); the torch package of `python3` when it
#   is 2.13.0 (used in place, nothing downloaded); else `cargo setup` installs the PyPI
#   wheel, which needs PyPI (checked first: with no network the check stops with 4).
#   GPU_CHECK_TORCH_MISMATCH=1 builds against python3's torch of another version
#   (LIBTORCH_BYPASS_VERSION_CHECK=1: untried, may not compile or link).
#   The GPU machines lent to this project's sessions reach no network, and their image
#   holds torch 2.11.0 in python3 and, as described, no Rust toolchain: there this check
#   stops with 4 unless those are brought (a 5 GB libtorch does not fit in the 64 MiB
#   that a call carries).
# - the checkout's datasets/tinyshakespeare (carried in the repository).
#
# Knobs: GPU_CHECK_BUDGET_S (480: the whole check, from its start; later steps get what
# is left, the nanoGPT run all of the rest), GPU_CHECK_BUILD_S (300: the build's limit).
# shellcheck disable=SC2317 # the steps are functions called through run_step's "$fn"
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

TORCH=2.13.0           # what tch 0.26 is built against (crates/autoreg-setup)
TARGET_LOSS=1.47       # nanoGPT's validation loss with its GPU recipe (1.4697)
start=$(date +%s)
deadline=$((start + ${GPU_CHECK_BUDGET_S:-480}))
outdir=${OUT:-$root/out}
mkdir -p "$outdir"
summary=$outdir/gpu-check-summary.txt
target=${CARGO_TARGET_DIR:-$root/target}/release
autoreg=$target/autoreg
dist_speed=$target/dist_speed
failures=0
mem_pid=

now() { date +%s.%N; }
secs_left() { echo $((deadline - $(date +%s))); }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# One line of the summary, echoed.
record() {
    printf '%-12s %-22s %8ss  %s\n' "$1" "$2" "$3" "$4" | tee -a "$summary"
}

# Ends the check before any step: one summary line, a message, exit status $1.
stop_early() {
    local code=$1 status=$2 why=$3
    record preflight "$status" "$(since "$start")" "$why"
    echo "gpu-check: $status: $why" >&2
    echo "gpu-check: summary in $summary" >&2
    exit "$code"
}

# The status a command's exit code stands for (timeout: 124 after SIGTERM, 137 after
# SIGKILL; 125 is ours: no time was left to start it).
status_of() {
    case $1 in
        0) echo ok ;;
        124 | 137) echo "timed out" ;;
        125) echo "skipped (out of time)" ;;
        *) echo "failed rc=$1" ;;
    esac
}

# timed LIMIT CMD...: runs CMD with its output appended to the step's log, stopped by
# SIGTERM after LIMIT seconds or when the check's time is up (training saves and
# evaluates its last step on SIGTERM), killed 30 s later; returns CMD's status.
timed() {
    local limit=$1 left rc=0
    shift
    left=$(secs_left)
    if ((limit > left)); then limit=$left; fi
    if ((limit < 5)); then
        echo "skipped, ${left} s left: $*" >>"$LOG"
        return 125
    fi
    printf '$ %s    (timeout %s s)\n' "$*" "$limit" >>"$LOG"
    timeout --kill-after=30 "$limit" "$@" >>"$LOG" 2>&1 || rc=$?
    echo "(exit status $rc)" >>"$LOG"
    return "$rc"
}

# run_step NAME FUNCTION: runs FUNCTION with LOG set to the step's log; FUNCTION sets KEY
# (its figure) and may set STATUS, else its return status gives it. One summary line.
run_step() {
    local name=$1 fn=$2 t0 rc=0
    STATUS='' KEY=''
    LOG=$outdir/gpu-check-$name.log
    : >"$LOG"
    t0=$(now)
    "$fn" || rc=$?
    if [ -z "$STATUS" ]; then STATUS=$(status_of "$rc"); fi
    record "$name" "$STATUS" "$(since "$t0")" "$KEY"
    if [ "$STATUS" != ok ]; then failures=$((failures + 1)); fi
}

# FIELD of the JSON line LINE (a number of metrics.jsonl).
jget() { awk -v k="\"$2\":" '{ i = index($0, k); if (i) { s = substr($0, i + length(k)); sub(/[,}].*/, "", s); print s } }' <<<"$1"; }

# The version of the torch package (or libtorch) folder $1, without its +local part.
torch_version() {
    if [ -f "$1/version.py" ]; then sed -n "s/^__version__ = ['\"]\([^'\"+]*\).*/\1/p" "$1/version.py" | head -n 1; fi
}

# The peak of nvidia-smi's memory.used, MiB, between two times of `now` (0: not run).
peak_mib() {
    if [ "$1" = 0 ]; then echo "n/a"; return; fi
    awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $2 + 0 > p { p = $2 + 0 } END { print p + 0 }' "$memlog"
}

# ---------------------------------------------------------------------------- preflight
: >"$summary"
echo "gpu-check $(date -u +%FT%TZ) on $(uname -n), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" |
    tee -a "$summary"

# No CUDA device: stop before anything is built.
if ! command -v nvidia-smi >/dev/null; then
    stop_early 3 "no CUDA device" "nvidia-smi not found: this check needs an NVIDIA GPU"
fi
if ! gpus=$(timeout 30 nvidia-smi -L 2>&1) || ! grep -q '^GPU ' <<<"$gpus"; then
    stop_early 3 "no CUDA device" "nvidia-smi -L lists no GPU: $(head -n 1 <<<"$gpus")"
fi

LOG=$outdir/gpu-check-preflight.log
{
    nvidia-smi || true
    echo "cargo: $(cargo --version 2>&1 || echo none)"
    echo "python3: $(python3 --version 2>&1 || echo none)"
} >"$LOG" 2>&1

# Which libtorch to build with, found without downloading anything.
need_setup=0
if [ -n "${LIBTORCH:-}" ]; then
    libtorch="LIBTORCH=$LIBTORCH (torch $(torch_version "$LIBTORCH"))"
elif [ "$(torch_version "$root/.venv/libtorch")" = "$TORCH" ]; then
    libtorch=".venv/libtorch (torch $TORCH)"
else
    py_torch=$(python3 -c 'import importlib.util as u; s = u.find_spec("torch"); print(s.submodule_search_locations[0] if s else "")' 2>/dev/null || true)
    py_version=$(torch_version "$py_torch")
    if [ -n "$py_torch" ] && [ "$py_version" = "$TORCH" ]; then
        export LIBTORCH=$py_torch
        libtorch="python3's torch $py_version at $py_torch"
    elif [ -n "$py_version" ] && [ "${GPU_CHECK_TORCH_MISMATCH:-0}" = 1 ]; then
        export LIBTORCH=$py_torch LIBTORCH_BYPASS_VERSION_CHECK=1
        libtorch="python3's torch $py_version at $py_torch, NOT $TORCH (GPU_CHECK_TORCH_MISMATCH=1)"
    elif timeout 15 python3 -c 'import os, urllib.request as r; r.urlopen(os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/") + "/torch/", timeout=10)' >/dev/null 2>&1; then
        need_setup=1
        libtorch="cargo setup (torch $TORCH from PyPI into .venv)"
    else
        stop_early 4 "cannot build" "no libtorch $TORCH: LIBTORCH unset, no .venv/libtorch, python3's torch is ${py_version:-absent}${py_torch:+ at $py_torch}, and PyPI is out of reach for cargo setup (GPU_CHECK_TORCH_MISMATCH=1 tries python3's torch)"
    fi
fi
echo "libtorch: $libtorch" >>"$LOG"
if ! command -v cargo >/dev/null; then
    if [ ! -x "$autoreg" ] || [ ! -x "$dist_speed" ] || ldd "$autoreg" "$dist_speed" 2>&1 | grep 'not found' >/dev/null; then
        stop_early 4 "cannot build" "no cargo here, and no release binaries in $target whose libraries are found"
    fi
fi
record preflight ok "$(since "$start")" "$(sed -n 's/^GPU 0: \(.*\) (UUID.*/\1/p' <<<"$gpus"); libtorch: $libtorch"

# nvidia-smi's memory.used, twice a second, for the whole check (this script's own
# background loop, ended by its PID on exit).
work=$root/runs/gpu-check/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$work"
memlog=$work/memory-used.txt
(
    while :; do
        used=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -n 1 || true)
        echo "$(now) ${used:-?}"
        sleep 0.5
    done
) >"$memlog" 2>/dev/null &
mem_pid=$!
trap 'if [ -n "$mem_pid" ]; then kill "$mem_pid" 2>/dev/null || true; fi' EXIT

# ---------------------------------------------------------------------------- the steps
step_build() {
    local rc=0
    if ((need_setup)); then
        timed 300 cargo setup || rc=$?
        if ((rc)); then
            STATUS="setup $(status_of "$rc")"
            KEY="cargo setup could not install torch $TORCH"
            return "$rc"
        fi
    fi
    if command -v cargo >/dev/null; then
        timed "${GPU_CHECK_BUILD_S:-300}" cargo build --release -p autoreg -p autoreg-bench \
            --bin autoreg --bin dist_speed || rc=$?
    else
        echo "no cargo: using the release binaries in $target as they are" >>"$LOG"
    fi
    KEY="$autoreg, $dist_speed; libtorch: $libtorch"
    return "$rc"
}

# Fails the step (STATUS) when a binary is missing.
have() {
    if [ -x "$1" ]; then return 0; fi
    STATUS="skipped (no binary)" KEY="$1 missing: the build failed"
    return 1
}

# Appends a run's metrics to the log.
log_metrics() {
    echo "--- $1/metrics.jsonl" >>"$LOG"
    cat "$1/metrics.jsonl" >>"$LOG" 2>/dev/null || echo "(none)" >>"$LOG"
}

bf16_run=$work/gpu-check-bf16
bf16_t0=0 bf16_t1=0
step_train_bf16() {
    have "$autoreg" || return 1
    local rc=0 last on
    bf16_t0=$(now)
    timed 120 "$autoreg" train configs/shakespeare-char.toml --set name=gpu-check-bf16 \
        --set "train.runs_dir=$work" --set train.device=cuda --set train.precision=bf16 || rc=$?
    bf16_t1=$(now)
    log_metrics "$bf16_run"
    last=$(tail -n 1 "$bf16_run/metrics.jsonl" 2>/dev/null || true)
    if [ -n "$last" ]; then
        KEY=$(printf 'step %s, val loss %.4f, %.0f tokens/s, %.1f s training' "$(jget "$last" step)" \
            "$(jget "$last" val_loss)" "$(jget "$last" tokens_per_s)" "$(jget "$last" elapsed_s)")
    else
        KEY="no evaluation logged"
    fi
    on=$(grep -o 'parameters on [A-Za-z]*([0-9]*)\|parameters on Cpu' "$LOG" | head -n 1 || true)
    if [ -n "$on" ]; then KEY="$KEY; $on"; fi
    if ((rc == 0)) && ! grep -q 'parameters on Cuda' "$LOG"; then
        STATUS="failed (not on CUDA)"
    fi
    return "$rc"
}

# Seconds of one `autoreg sample` of the bf16 run: DECODER NUM TOKENS.
sample_secs() {
    local t0 rc=0
    t0=$(now)
    timed 60 "$autoreg" sample "$bf16_run" --device cuda --decoder "$1" --num "$2" --max-tokens "$3" \
        --min-tokens "$3" --seed 1 --out "$work/samples-$1-$2-$3" >/dev/null || rc=$?
    since "$t0"
    return "$rc"
}

step_sample() {
    have "$autoreg" || return 1
    if [ ! -e "$bf16_run/best" ]; then
        STATUS="skipped (no run)" KEY="train-bf16 left no checkpoint"
        return 1
    fi
    local decoder num short long rate worst=0 rc
    local figures=()
    for num in 1 8; do
        for decoder in native libtorch; do
            rc=0
            short=$(sample_secs "$decoder" "$num" 64) || rc=$?
            if ((rc == 0)); then long=$(sample_secs "$decoder" "$num" 2048) || rc=$?; fi
            if ((rc)); then
                worst=$rc
                figures+=("$decoder batch $num: $(status_of "$rc")")
                continue
            fi
            rate=$(awk -v n="$num" -v a="$short" -v b="$long" 'BEGIN { if (b > a) printf "%.0f", n * 1984 / (b - a); else print "n/a" }')
            figures+=("$decoder batch $num: $rate tok/s")
            echo "$decoder, batch $num: 64 new tokens in $short s, 2048 in $long s: $rate new tokens/s" >>"$LOG"
        done
    done
    KEY=$(printf '%s; ' "${figures[@]}")
    KEY="${KEY%; } (new tokens/s past start-up: 2,048 new tokens against 64)"
    return "$worst"
}

step_dist_speed() {
    have "$dist_speed" || return 1
    local rc=0 grads big ratio
    timed 120 "$dist_speed" --nproc 1 --device cuda --steps 50 || rc=$?
    grads=$(sed -n 's/^all-reduce of the gradients: \(.*\) ms per step/\1/p' "$LOG" | tail -n 1)
    big=$(awk '/one tensor of 64 MiB/ { print $(NF - 1) }' "$LOG" | tail -n 1)
    ratio=$(sed -n 's/^step time, 2 ranks x 1 thread vs 1 rank x 2 threads: //p' "$LOG" | tail -n 1)
    KEY="NCCL, 1 rank: gradients ${grads:-?} ms per all-reduce, 64 MiB ${big:-?} ms; CPU step 2 ranks / 1 rank ${ratio:-?}"
    return "$rc"
}

# nanoGPT's config/train_shakespeare_char.py, with its model (learned positions, GELU,
# no soft cap, no biases).
nanogpt=(--set model.n_layer=6 --set model.n_head=6 --set model.n_embd=384 --set model.block_size=256
    --set model.dropout=0.2 --set model.positions=learned --set 'model.mlp="gelu"' --set model.logit_softcap=0.0
    --set model.bias=false --set train.batch_size=64 --set train.lr=1e-3 --set train.min_lr=1e-4
    --set train.warmup_steps=100 --set train.beta2=0.99 --set train.weight_decay=0.1 --set train.grad_clip=1.0
    --set train.eval_interval=250 --set train.eval_batches=200 --set train.device=cuda --set train.precision=bf16
    --set "train.runs_dir=$work")
nano_run=$work/gpu-check-nanogpt
nano_t0=0 nano_t1=0
step_nanogpt() {
    have "$autoreg" || return 1
    local rc=0 left budget hit last
    # The time left, start-up (30 s) and a margin (15 s) aside, bounds the run itself
    # (train.max_time: its decay ends with the time); 5,000 steps at most.
    left=$(secs_left)
    budget=$((left - 45))
    if ((budget < 30)); then
        STATUS="skipped (out of time)" KEY="$left s left"
        return 1
    fi
    echo "$left s left: train.max_time = $budget s" >>"$LOG"
    nano_t0=$(now)
    timed $((left - 5)) "$autoreg" train configs/shakespeare-char.toml "${nanogpt[@]}" --set name=gpu-check-nanogpt \
        --set train.max_steps=5000 --set "train.max_time=$budget" || rc=$?
    nano_t1=$(now)
    log_metrics "$nano_run"
    last=$(tail -n 1 "$nano_run/metrics.jsonl" 2>/dev/null || true)
    hit=$(awk -v target="$TARGET_LOSS" '{
            v = $0; sub(/.*"val_loss":/, "", v); sub(/[,}].*/, "", v)
            t = $0; sub(/.*"elapsed_s":/, "", t); sub(/[,}].*/, "", t)
            n = $0; sub(/.*"step":/, "", n); sub(/[,}].*/, "", n)
            if (v + 0 <= target + 0) { printf "val %.4f <= %s at step %d, %.1f s of training", v, target, n, t; exit }
        }' "$nano_run/metrics.jsonl" 2>/dev/null || true)
    KEY="${hit:-val loss never reached $TARGET_LOSS}; $(printf 'last: step %s, val %.4f, %.1f s of training' \
        "$(jget "$last" step)" "$(jget "$last" val_loss)" "$(jget "$last" elapsed_s)")"
    KEY="$KEY; nvidia-smi memory.used peak $(peak_mib "$nano_t0" "$nano_t1") MiB"
    return "$rc"
}

# The memory check must refuse a batch no GPU holds (about 2.7 TB for shakespeare-char at
# 1,000,000 windows) with its own message, before training.
refusal=''
step_memory_refusal() {
    local rc=0
    timed 60 "$autoreg" train configs/shakespeare-char.toml --set name=gpu-check-oom \
        --set "train.runs_dir=$work" --set train.device=cuda --set train.batch_size=1000000 \
        --set train.max_steps=1 || rc=$?
    if ((rc == 0)); then
        refusal="NOT refused: a batch of 1,000,000 trained"
        return 1
    elif ((rc == 124 || rc == 125 || rc == 137)); then
        refusal="batch 1,000,000: $(status_of "$rc")"
        return "$rc"
    elif grep -q 'cannot give' "$LOG"; then
        refusal="batch 1,000,000 refused ($(grep -o 'need about [^ ]* bytes' "$LOG" | head -n 1))"
        return 0
    fi
    refusal="batch 1,000,000 failed otherwise (rc $rc, no 'cannot give')"
    return 1
}

step_cuda_memory() {
    have "$autoreg" || return 1
    local rc=0 idle total
    step_memory_refusal || rc=$?
    idle=$(awk 'NR == 1 { print $2 + 0 }' "$memlog")
    total=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -n 1 || true)
    KEY="$refusal; nvidia-smi memory.used peak while train-bf16 ran: $(peak_mib "$bf16_t0" "$bf16_t1") MiB (idle ${idle:-?} MiB, card ${total:-?} MiB; the nanogpt peak is on its own line)"
    return "$rc"
}

run_step build step_build
run_step train-bf16 step_train_bf16
run_step sample step_sample
run_step dist-speed step_dist_speed
run_step cuda-memory step_cuda_memory
run_step nanogpt step_nanogpt

kill "$mem_pid" 2>/dev/null || true
mem_pid=''
{
    echo "--- nvidia-smi memory.used for the whole check: time (s), MiB, twice a second"
    cat "$memlog"
} >>"$outdir/gpu-check-cuda-memory.log"

if ((failures)); then total="$failures not ok"; else total=ok; fi
record total "$total" "$(since "$start")" "runs in $work"
exit $((failures ? 1 : 0))
