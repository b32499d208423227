"""Tokenizes every .mid file of a folder with MidiTok's REMI and prints the elapsed seconds.

Usage: python miditok_remi.py FOLDER
Prints `files=N tokens=T seconds=S` on the last line (the time covers reading and tokenizing).
"""

import sys
import time
from pathlib import Path

from miditok import REMI, TokenizerConfig
from symusic import Score


def main() -> None:
    files = sorted(Path(sys.argv[1]).glob("*.mid"))
    tokenizer = REMI(TokenizerConfig(use_tempos=True, use_time_signatures=True, use_programs=False))
    start = time.perf_counter()
    tokens = 0
    for path in files:
        result = tokenizer(Score(str(path)))
        seqs = result if isinstance(result, list) else [result]
        tokens += sum(len(s.ids) for s in seqs)
    seconds = time.perf_counter() - start
    print(f"files={len(files)} tokens={tokens} seconds={seconds:.3f}")


if __name__ == "__main__":
    main()
