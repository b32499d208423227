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

# Trains the run of a config, or resumes it if it exists (a finished run is left as is).
train() {
    local name
    name=$(sed -n 's/^name = "\(.*\)"/\1/p' "configs/$1.toml")
    if [ -e "runs/$name/last" ]; then
        "$autoreg" train --resume "runs/$name"
    else
        "$autoreg" train "configs/$1.toml"
    fi
}

train digits
"$autoreg" sample runs/digits --per-class 8 --out out # out/digits.png: a row per digit

if [ -d "$AUTOREG_DATA/nottingham/melody" ]; then
    train melody
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
