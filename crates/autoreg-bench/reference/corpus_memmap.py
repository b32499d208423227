"""nanoGPT's way of preparing a corpus, the reference of `corpus_scale`.

`bytes CORPUS OUT`: every file's bytes as uint16 ids into one `np.memmap` (nanoGPT's
`prepare.py` writes `train.bin` so), then, in a fresh process, the memmap opened and 20
batches of 8 windows of 65 ids drawn (as `train.py`'s `get_batch`).
`bpe CORPUS OUT LEARN_BYTES`: a byte-level BPE of 4,096 ids learned with Python
`tokenizers` on the first LEARN_BYTES of the corpus, then every file encoded with
`encode_batch` (all cores) into uint16 ids on disk.
Prints one JSON line: seconds, MB/s, peak resident memory in MB.
"""

import glob
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def peak_mb(who=resource.RUSAGE_SELF):
    return resource.getrusage(who).ru_maxrss / 1000.0


def files_of(corpus):
    return sorted(glob.glob(os.path.join(corpus, "*.txt")))


def by_bytes(corpus, out):
    files = files_of(corpus)
    total = sum(os.path.getsize(f) for f in files)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "train.bin")
    start = time.perf_counter()
    arr = np.memmap(path, dtype=np.uint16, mode="w+", shape=(total,))
    at = 0
    for f in files:
        data = np.fromfile(f, dtype=np.uint8)
        arr[at : at + len(data)] = data
        at += len(data)
    arr.flush()
    del arr
    tokenize_s = time.perf_counter() - start
    peak_tokenize = peak_mb()
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "read", path], check=True)
    read_s = time.perf_counter() - start
    return {
        "tokenize_s": tokenize_s,
        "mb_per_s": total / 1e6 / tokenize_s,
        "peak_tokenize_mb": peak_tokenize,
        "startup_s": read_s,
        "peak_read_mb": peak_mb(resource.RUSAGE_CHILDREN),
        "bytes_per_token": os.path.getsize(path) / total,
    }


def read(path):
    data = np.memmap(path, dtype=np.uint16, mode="r")
    rng = np.random.default_rng(0)
    for _ in range(20):
        ix = rng.integers(0, len(data) - 65, size=8)
        batch = np.stack([data[i : i + 65].astype(np.int64) for i in ix])
        assert batch.shape == (8, 65)


def by_bpe(corpus, out, learn_bytes):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    files = files_of(corpus)
    total = sum(os.path.getsize(f) for f in files)

    def learning_texts():
        seen = 0
        for f in files:
            if seen >= learn_bytes:
                return
            with open(f, encoding="utf-8") as fh:
                text = fh.read()
            seen += len(text.encode())
            yield text

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=4096, min_frequency=2, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    start = time.perf_counter()
    tok.train_from_iterator(learning_texts(), trainer=trainer)
    learn_s = time.perf_counter() - start
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    with open(os.path.join(out, "train-bpe.bin"), "wb") as sink:
        for i in range(0, len(files), 64):
            texts = []
            for f in files[i : i + 64]:
                with open(f, encoding="utf-8") as fh:
                    texts.append(fh.read())
            for enc in tok.encode_batch(texts):
                np.asarray(enc.ids, dtype=np.uint16).tofile(sink)
    tokenize_s = time.perf_counter() - start
    return {
        "learn_s": learn_s,
        "tokenize_s": tokenize_s,
        "mb_per_s": total / 1e6 / tokenize_s,
        "peak_tokenize_mb": peak_mb(),
    }


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "read":
        read(sys.argv[2])
    elif mode == "bytes":
        print(json.dumps(by_bytes(sys.argv[2], sys.argv[3])))
    elif mode == "bpe":
        print(json.dumps(by_bpe(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        sys.exit(f"unknown mode {mode!r}: bytes, bpe or read")
