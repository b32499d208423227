"""PyTorch reference for bench `finetune_speed`: transformers' GPT2LMHeadModel trained
as autoreg trains it (torch.optim.AdamW with betas 0.9/0.99, weight decay 0.1 on
matrices, lr 3e-4, gradient clipping 1.0, no dropout) on random windows, and greedy
decoding at batch 1 with its KV cache (`generate`).

usage: finetune_step.py (--folder DIR | --shape LAYERS,WIDTH,HEADS,VOCAB,POSITIONS)
                        BLOCK BATCH WARMUP STEPS DECODE

Prints one line: `ms_per_step X decode_tokens_per_s Y peak_rss_mb Z threads N`.
"""
import resource
import sys
import time

import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

source, block, batch, warmup, steps, decode = sys.argv[1:3], *map(int, sys.argv[3:8])
torch.manual_seed(1337)
if source[0] == "--folder":
    model = GPT2LMHeadModel.from_pretrained(source[1], resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
else:
    layers, width, heads, vocab, positions = map(int, source[1].split(","))
    config = GPT2Config(n_layer=layers, n_embd=width, n_head=heads, vocab_size=vocab, n_positions=positions,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(config)
model.train()
vocab = model.config.vocab_size
decay = [p for p in model.parameters() if p.dim() >= 2]
rest = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                        lr=3e-4, betas=(0.9, 0.99), eps=1e-8)


def step():
    x = torch.randint(vocab, (batch, block + 1))
    logits = model(x[:, :-1]).logits
    loss = F.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(warmup):
    step()
start = time.perf_counter()
for _ in range(steps):
    step()
ms = 1e3 * (time.perf_counter() - start) / steps

model.eval()
prompt = torch.zeros((1, 1), dtype=torch.long)
with torch.no_grad():
    model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=4,
                   min_new_tokens=4, pad_token_id=0)
    start = time.perf_counter()
    model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=decode,
                   min_new_tokens=decode, pad_token_id=0)
    tokens_per_s = decode / (time.perf_counter() - start)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"ms_per_step {ms:.2f} decode_tokens_per_s {tokens_per_s:.2f} peak_rss_mb {rss:.0f} threads {torch.get_num_threads()}")
