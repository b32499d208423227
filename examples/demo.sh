#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install libtorch, build, train small
# models from TOML configs and write generated files to out/, and a report page per run
# (runs/<name>/report.html: loss curves and the samples, to look at and listen to).
#
#   bash examples/demo.sh
#
# It needs nothing beside the checkout: the digits, the Nottingham melodies and Tiny
# Shakespeare are carried in datasets/ (AUTOREG_DATA, when set, is searched first).
# Running it again resumes or reuses the runs.
set -euo pipefail
cd "$(dirname "$0")/.."

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
"$autoreg" sample runs/digits --per-class 8 --out out --report # out/digits.png: a row per digit

train melody-bpe # whole Nottingham tunes, REMI merged by BPE: a sample ends where its tune ends
"$autoreg" sample runs/melody-bpe --out out --report # out/melody-bpe.mid, .png (piano roll), .wav

train shakespeare-char # nanoGPT's baby GPT: about a minute and a half, and it makes words
"$autoreg" sample runs/shakespeare-char --num 2 --out out --report >/dev/null # out/shakespeare-char-{0,1}.txt
