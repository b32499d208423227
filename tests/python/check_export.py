"""Loads a folder that `autoreg export --format hf` wrote, as a transformers user would,
and reports what it computes, for the tests to compare with autoreg's.

usage: check_export.py HF_DIR REQUEST_JSON OUT_DIR

REQUEST_JSON: {"ids": [...], "prompt": [...], "new_tokens": N, "text": "..."}.
OUT_DIR gets logits.safetensors (`logits`: the model's logits on `ids`, (T, V)) and
report.json: {"generated": the ids that greedy `generate` adds to `prompt`,
"generated_text": the text of prompt and continuation, special tokens skipped,
"encoded": AutoTokenizer's ids of `text`}.
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

hf_dir, request, out = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
model = AutoModelForCausalLM.from_pretrained(hf_dir).eval()
tokenizer = AutoTokenizer.from_pretrained(hf_dir)

with torch.no_grad():
    logits = model(torch.tensor([request["ids"]])).logits[0]
    prompt = torch.tensor([request["prompt"]])
    generated = model.generate(
        prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=request["new_tokens"],
        pad_token_id=tokenizer.pad_token_id,
    )[0]
save_file({"logits": logits.contiguous()}, str(out / "logits.safetensors"))
report = {
    "generated": generated[prompt.shape[1]:].tolist(),
    "generated_text": tokenizer.decode(generated, skip_special_tokens=True),
    "encoded": tokenizer(request["text"], add_special_tokens=False)["input_ids"],
}
(out / "report.json").write_text(json.dumps(report))
