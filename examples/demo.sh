#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install libtorch, build, train small
# models from TOML configs and write generated files to out/.
#
#   bash examples/demo.sh
#
# Digits need nothing else (the data is carried in datasets/digits). Melodies and text
# read the shared data sets from AUTOREG_DATA (default: ../shared/datasets) and are
# skipped when those are absent. Running it again resumes or reuses the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export AUTOREG_DATA="${AUTOREG_DATA:-$(cd .. && pwd)/shared/datasets}"

cargo setup
cargo build --release --quiet
autoreg=./target/release/autoreg

# Trains the run of a config (extra arguments are --set overrides), or resumes it if it
# exists (a finished run is left as is).
train() {
    local config=$1 name
    shift
    name=$(sed -n 's/^name = "\(.*\)"/\1/p' "configs/$config.toml")
    if [ -e "runs/$name/last" ]; then
        "$autoreg" train --resume "runs/$name"
    else
        "$autoreg" train "configs/$config.toml" "$@"
    fi
}

train digits
"$autoreg" sample runs/digits --per-class 8 --out out # out/digits.png: a row per digit

if [ -d "$AUTOREG_DATA/nottingham/melody" ]; then
    # A few minutes: 400 of the config's 1,500 steps (the full run beats an order-4
    # Markov chain on held-out tunes; see the README).
    train melody --set train.max_steps=400
    "$autoreg" sample runs/melody --out out # out/melody.mid, .png (piano roll), .wav
else
    echo "skipping the melody demo: $AUTOREG_DATA/nottingham/melody not found"
fi

if [ -f "$AUTOREG_DATA/tinyshakespeare/input.txt" ]; then
    train quick-text
    "$autoreg" sample runs/quick-text --out out # out/quick-text-*.txt
else
    echo "skipping the text demo: $AUTOREG_DATA/tinyshakespeare/input.txt not found"
fi
ls -l out
