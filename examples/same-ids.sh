#!/usr/bin/env bash
# Prints, for every config in configs/, the validation losses of 12 training steps and
# a hash of the fitted tokenizer.json: a refactor that changes no ids and no batches
# prints the same lines before and after.
#
#   git checkout OLD && cargo build --release && bash examples/same-ids.sh > before.txt
#   git checkout NEW && cargo build --release && bash examples/same-ids.sh > after.txt
#   diff before.txt after.txt
#
# The runs go to a temporary folder, with a token cache of their own. Configs whose data
# is not carried in datasets/ (the FSDD training split) need AUTOREG_DATA=../shared/datasets.
# A config's [tokenizer.codec] trains 20 steps; a mixed config's codec trains as configured
# (`--set` cannot reach into [[sources]]), about 5 minutes for configs/mixed.toml.
set -uo pipefail
cd "$(dirname "$0")/.."
autoreg=./target/release/autoreg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A few short Moving MNIST clips for configs/moving-mnist.toml, the same every time.
"$autoreg" dataset moving-mnist --out "$work/moving-mnist" --clips 40 --frames 10 >/dev/null 2>&1

for config in configs/*.toml; do
    name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$config" | head -1)
    "$autoreg" train "$config" --set train.runs_dir="$work/runs" --set data.cache_dir="$work/cache" \
        --set train.max_steps=12 --set train.eval_interval=6 --set train.eval_batches=2 \
        $([ "$name" = moving-mnist ] && echo --set data.path="$work/moving-mnist") \
        $(grep -q '^\[tokenizer.codec\]' "$config" && echo --set tokenizer.codec.steps=20) >"$work/$name.log" 2>&1
    status=$?
    run="$work/runs/$name"
    losses=$(python3 -c 'import json, sys; print([round(json.loads(l)["val_loss"], 6) for l in open(sys.argv[1])])' \
        "$run/metrics.jsonl" 2>/dev/null || echo "failed: $(tail -1 "$work/$name.log")")
    tokenizer=$(sha1sum "$run/tokenizer.json" 2>/dev/null | cut -c1-12)
    echo "$name exit $status val losses $losses tokenizer $tokenizer"
done
