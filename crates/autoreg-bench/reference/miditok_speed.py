"""MidiTok's side of `miditok_speed`: BPE training time and encode throughput of REMI.

Usage: python miditok_speed.py VOCAB_SIZE FILE_LIST
FILE_LIST holds one MIDI path a line. Prints one JSON line of results.

The REMI settings follow autoreg's configs/melody.toml (crates/autoreg-midi/src/config.rs
defaults beside it): pitches 21-108, 4 positions per beat, durations up to 8 beats,
32 velocity levels, 32 tempo levels over 40-250 bpm, time signatures, programs; no
chords, rests, pedals or pitch bends.
"""

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

try:
    from miditok import REMI, TokenizerConfig
    from symusic import Score
except ImportError as e:  # the Rust side prints how to install it
    print(json.dumps({"error": f"missing module: {e.name}"}))
    sys.exit(0)


def main() -> None:
    vocab_size = int(sys.argv[1])
    files = [Path(line) for line in Path(sys.argv[2]).read_text().splitlines() if line]
    config = TokenizerConfig(
        pitch_range=(21, 109),
        beat_res={(0, 8): 4},
        num_velocities=32,
        use_velocities=True,
        use_tempos=True,
        num_tempos=32,
        tempo_range=(40, 250),
        use_time_signatures=True,
        use_programs=True,
        use_chords=False,
        use_rests=False,
        use_sustain_pedals=False,
        use_pitch_bends=False,
    )
    tokenizer = REMI(config)
    base_vocab = len(tokenizer)

    start = time.perf_counter()
    tokenizer.train(vocab_size=vocab_size, model="BPE", files_paths=files)
    train_s = time.perf_counter() - start

    # Encoding: read and parse each file, base tokens, then the merges.
    notes = tokens = 0
    start = time.perf_counter()
    for path in files:
        score = Score(path)
        seq = tokenizer.encode(score)
        seqs = seq if isinstance(seq, list) else [seq]
        tokens += sum(len(s.ids) for s in seqs)
    encode_s = time.perf_counter() - start
    for path in files:
        notes += sum(len(t.notes) for t in Score(path).tracks)

    print(
        json.dumps(
            {
                "miditok": version("miditok"),
                "base_vocab": base_vocab,
                "vocab": len(tokenizer),
                "files": len(files),
                "notes": notes,
                "tokens": tokens,
                "train_s": train_s,
                "encode_s": encode_s,
            }
        )
    )


if __name__ == "__main__":
    main()
