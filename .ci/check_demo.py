"""Checks what examples/demo.sh wrote in the checkout given as the argument: the files
the README promises, each of its kind, and text samples that are made of words."""

import re
import struct
import sys
from pathlib import Path

root = Path(sys.argv[1])
out = root / "out"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def check_midi(path: Path) -> None:
    data = path.read_bytes()
    assert data[:4] == b"MThd" and b"MTrk" in data, f"{path} is not a MIDI file"
    notes = len(re.findall(rb"[\x90-\x9f][\x00-\x7f][\x01-\x7f]", data))
    assert notes >= 8, f"{path} holds only {notes} note-ons"


w, h = png_size(out / "digits.png")
assert w >= 64 and h >= 10 * 64, f"out/digits.png is {w}x{h}: expected a row per digit"
check_midi(out / "melody.mid")
png_size(out / "melody.png")
assert (out / "melody.wav").read_bytes()[:4] == b"RIFF", "out/melody.wav is not a WAV file"

# Text: most words of the samples are words of the corpus.
corpus = set(re.findall(r"[a-z']+", (root / "datasets/tinyshakespeare/input.txt").read_text().lower()))
samples = sorted(out.glob("shakespeare-char-*.txt"))
assert len(samples) == 2, f"expected 2 text samples, found {samples}"
for path in samples:
    words = re.findall(r"[a-z']+", path.read_text().lower())
    known = sum(w in corpus for w in words)
    assert len(words) >= 40, f"{path} has only {len(words)} words"
    assert known >= 0.7 * len(words), f"{path}: only {known} of {len(words)} words are English: {words[:30]}"
    print(f"{path.name}: {known} of {len(words)} words are words of the corpus")
print("demo outputs: ok")
