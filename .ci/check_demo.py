"""Checks what examples/demo.sh wrote in the checkout given as the argument: the files
the README promises, each of its kind, and text samples that are made of words."""

import re
import struct
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

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
check_midi(out / "melody-bpe.mid")
w, h = png_size(out / "melody-bpe.png")
assert w >= 800 and h >= 150, f"out/melody-bpe.png is {w}x{h}: too small to read"
assert (out / "melody-bpe.wav").read_bytes()[:4] == b"RIFF", "out/melody-bpe.wav is not a WAV file"

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


class Media(HTMLParser):
    """The tags of a page and the media each refers to."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


# Each run's report: its loss plot, and its samples' media, embedded or beside it.
pages = [("digits", ["img"], "digits.png"), ("melody-bpe", ["img", "audio"], "melody-bpe.mid"),
         ("shakespeare-char", ["pre"], "shakespeare-char-0.txt")]
for name, tags, sample in pages:
    page = root / "runs" / name / "report.html"
    assert page.is_file(), f"{page} is missing"
    html = page.read_text()
    media = Media()
    media.feed(html)
    assert media.tags.get("svg", 0) >= 1 and "<polyline" in html, f"{page}: no loss plot"
    for tag in tags:
        assert media.tags.get(tag, 0) >= 1, f"{page}: no <{tag}>"
    assert sample in html, f"{page}: {sample} is not shown"
    for link in media.links:
        if link.startswith("data:"):
            assert ";base64," in link, f"{page}: a bad data URI {link[:60]}"
        else:
            assert (page.parent / unquote(link)).is_file(), f"{page}: {link} does not exist"
    print(f"{page.relative_to(root)}: {media.tags} and {len(media.links)} media references")
print("demo outputs: ok")
