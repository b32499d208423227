"""Writes a tiny random GPT-2 as transformers saves one, for the import tests.

usage: make_gpt2.py OUT_DIR TEXT_FILE [--bin]

OUT_DIR gets config.json, model.safetensors (pytorch_model.bin with --bin) and a
byte-level BPE tokenizer.json of 400 ids learned on TEXT_FILE with GPT-2's
<|endoftext|>, and reference.safetensors: the GPT-2 ids of TEXT_FILE's first 48 tokens
(`ids`, (1, T)) and the model's logits on them (`logits`, (1, T, V)).
"""

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel

out, text_file = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
text = text_file.read_text()

tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tokenizer.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
)
tokenizer.train_from_iterator([text], trainer)
tokenizer.save(str(out / "tokenizer.json"))

eot = tokenizer.token_to_id("<|endoftext|>")
torch.manual_seed(0)
config = GPT2Config(
    vocab_size=tokenizer.get_vocab_size(), n_positions=64, n_embd=64, n_layer=2, n_head=4,
    bos_token_id=eot, eos_token_id=eot,
)
model = GPT2LMHeadModel(config).eval()
# Larger weights than GPT-2's initialisation, so that the logits differ by more than
# rounding and a wrong layout cannot pass.
with torch.no_grad():
    for p in model.parameters():
        p.add_(torch.randn_like(p) * 0.05)
model.save_pretrained(out, safe_serialization="--bin" not in sys.argv)
if "--bin" in sys.argv:
    (out / "model.safetensors").unlink(missing_ok=True)

ids = torch.tensor([tokenizer.encode(text).ids[:48]])
with torch.no_grad():
    logits = model(ids).logits
save_file({"ids": ids, "logits": logits.contiguous()}, str(out / "reference.safetensors"))
