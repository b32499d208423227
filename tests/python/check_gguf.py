"""Reads a GGUF file that `autoreg export --format gguf` wrote with llama.cpp's own
reader (the `gguf` package) and compares every tensor with the run's checkpoint; then
runs it in llama.cpp (`llama-cpp-python`).

usage: check_gguf.py FILE.gguf MODEL.safetensors REQUEST_JSON

REQUEST_JSON is check_export.py's: {"ids": [...], "logits": autoreg's logits on `ids`,
"prompt": [...], "new_tokens": N, ...}.

Prints a JSON report: the architecture, the metadata llama.cpp needs for GPT-2, the
number of tokens, the tensors that are missing or differ in any bit; and from llama.cpp
the largest difference of its logits on `ids` from autoreg's, and the `new_tokens` ids
it picks greedily after `prompt`.
"""

import json
import sys

import numpy as np
from gguf import GGUFReader
from llama_cpp import Llama
from safetensors.numpy import load_file

reader = GGUFReader(sys.argv[1])
ours = load_file(sys.argv[2])


def field(name):
    f = reader.fields[name]
    if f.types and f.types[0].name == "ARRAY":
        return len(f.data)
    value = f.parts[f.data[0]]
    return bytes(value).decode() if f.types[0].name == "STRING" else value.tolist()[0]


def gguf_name(name):
    """autoreg's name of a tensor, as llama.cpp names it."""
    stem, kind = name.rsplit(".", 1)
    parts = {"attn_norm": "ln_1", "attn_qkv": "attn.c_attn", "attn_output": "attn.c_proj", "ffn_norm": "ln_2",
             "ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj"}
    top = {"token_embd": "wte", "position_embd": "wpe", "output_norm": "ln_f", "output": "lm_head"}
    if stem.startswith("blk."):
        _, i, part = stem.split(".", 2)
        return f"h.{i}.{parts[part]}.{kind}"
    return f"{top[stem]}.{kind}"


read = {}
for t in reader.tensors:
    # The reader gives ggml's dimensions innermost first; the data is row-major as written.
    read[gguf_name(t.name)] = np.asarray(t.data).reshape([int(d) for d in reversed(t.shape.tolist())])
differ = []
for name, tensor in ours.items():
    got = read.get(name)
    if got is None or got.shape != tensor.shape or got.dtype != tensor.dtype or got.tobytes() != tensor.tobytes():
        differ.append(name)
# Biases that autoreg's bias = false leaves out are written as zeros.
extra = [n for n in read if n not in ours and (n.endswith(".weight") or np.any(read[n] != 0))]
request = json.loads(open(sys.argv[3]).read())
llm = Llama(model_path=sys.argv[1], logits_all=True, verbose=False, n_ctx=field("gpt2.context_length"))
llm.eval(request["ids"])
theirs = np.array(llm.scores[: len(request["ids"])])
logit_difference = float(np.abs(theirs - load_file(request["logits"])["logits"]).max())
llm.reset()
llm.eval(request["prompt"])
greedy = []
for _ in range(request["new_tokens"]):
    greedy.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
    llm.eval(greedy[-1:])

print(json.dumps({
    "architecture": field("general.architecture"),
    "block_count": field("gpt2.block_count"),
    "context_length": field("gpt2.context_length"),
    "tokens": field("tokenizer.ggml.tokens"),
    "tokenizer": field("tokenizer.ggml.model"),
    "tensors": len(reader.tensors),
    "differ": differ,
    "unexpected": extra,
    "llama_logit_difference": logit_difference,
    "llama_greedy": greedy,
}))
