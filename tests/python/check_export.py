"""Loads a folder that `autoreg export --format hf` wrote, as a transformers user would,
and compares what it computes with what autoreg computed.

usage: check_export.py HF_DIR REQUEST_JSON

REQUEST_JSON: {"ids": [...], "logits": autoreg's logits on `ids` (a safetensors file
holding `logits`, (T, V))}, and for a run of text also {"prompt": [...], "new_tokens":
N, "sampled": the text that `autoreg sample --temperature 0` wrote from `prompt`, "text":
"..."}.

Prints a JSON report: the largest difference of the logits; for text, how many tokens
greedy `generate` added to `prompt` and whether its text (special tokens skipped) is
autoreg's, and whether AutoTokenizer gives autoreg's ids of `text` (`ids` without its
first and last, BOS and EOS).
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

hf_dir, request = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
model = AutoModelForCausalLM.from_pretrained(hf_dir).eval()
with torch.no_grad():
    logits = model(torch.tensor([request["ids"]])).logits[0]
report = {"max_logit_difference": (logits - load_file(request["logits"])["logits"]).abs().max().item()}

if "text" in request:
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    prompt = torch.tensor([request["prompt"]])
    with torch.no_grad():
        generated = model.generate(
            prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=request["new_tokens"],
            pad_token_id=tokenizer.pad_token_id,
        )[0]
    text = tokenizer.decode(generated, skip_special_tokens=True)
    encoded = tokenizer(request["text"], add_special_tokens=False)["input_ids"]
    report |= {
        "generated": generated.shape[0] - prompt.shape[1],
        "greedy_text_equal": text == request["sampled"],
        "generated_text": text,
        "encoded_equal": encoded == request["ids"][1:-1],
    }
print(json.dumps(report))
