"""PyTorch reference for bench `train_step`: nanoGPT's character-level Shakespeare model
(4 layers, 4 heads, 128 wide, block 64, no bias, dropout 0, tied head) trained with
torch.optim.AdamW (betas 0.9/0.99, weight decay 0.1 on matrices) and gradient clipping 1.0,
batch 12, on random windows of tiny shakespeare. Prints milliseconds per step.

Usage: python train_step.py INPUT_TXT WARMUP_STEPS TIMED_STEPS
       python train_step.py INPUT_TXT --full SEED
The second form trains nanoGPT's full 2,000-step schedule (warm-up 100, cosine decay from
1e-3 to 1e-4) on the first 90% of the text and prints the validation loss over the last
10% in non-overlapping windows of 64, as `autoreg eval` computes it: the quality reference.
"""
import math
import sys
import time

import torch
import torch.nn as nn
from torch.nn import functional as F

N_LAYER, N_HEAD, N_EMBD, BLOCK, BATCH = 4, 4, 128, 64, 12


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD, bias=False)
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD, bias=False)
        self.attn_proj = nn.Linear(N_EMBD, N_EMBD, bias=False)
        self.ln_2 = nn.LayerNorm(N_EMBD, bias=False)
        self.c_fc = nn.Linear(N_EMBD, 4 * N_EMBD, bias=False)
        self.mlp_proj = nn.Linear(4 * N_EMBD, N_EMBD, bias=False)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(self.ln_1(x)).split(N_EMBD, dim=2)
        q, k, v = (t.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.wte = nn.Embedding(vocab, N_EMBD)
        self.wpe = nn.Embedding(BLOCK, N_EMBD)
        self.h = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD, bias=False)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)
        for b in self.h:
            nn.init.normal_(b.attn_proj.weight, 0.0, 0.02 / math.sqrt(2 * N_LAYER))
            nn.init.normal_(b.mlp_proj.weight, 0.0, 0.02 / math.sqrt(2 * N_LAYER))

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        for b in self.h:
            x = b(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def lr_at(it, lr=1e-3, min_lr=1e-4, warmup=100, decay=2000):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it >= decay:
        return min_lr
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * (it - warmup) / (decay - warmup))) * (lr - min_lr)


def main():
    path = sys.argv[1]
    full = sys.argv[2] == "--full"
    text = open(path, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = (data[:n], data[n:]) if full else (data, data)
    torch.manual_seed(int(sys.argv[3]) if full else 1337)
    model = GPT(len(chars) + 3)  # the same vocabulary as autoreg's (65 characters + 3 specials)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3,
        betas=(0.9, 0.99),
    )

    def step():
        ix = torch.randint(len(train) - BLOCK - 1, (BATCH,))
        x = torch.stack([train[i : i + BLOCK] for i in ix])
        y = torch.stack([train[i + 1 : i + 1 + BLOCK] for i in ix])
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    if full:
        start = time.perf_counter()
        for it in range(2000):
            for group in opt.param_groups:
                group["lr"] = lr_at(it)
            step()
        elapsed = time.perf_counter() - start
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for s in range(0, len(val) - 1, 64 * 32):
                chunks = [(i, min(i + 64, len(val) - 1)) for i in range(s, min(s + 64 * 32, len(val) - 1), 64)]
                for a, b in chunks:
                    x, y = val[a:b].unsqueeze(0), val[a + 1 : b + 1].unsqueeze(0)
                    total += model(x, y).item() * (b - a)
                    count += b - a
        print(f"val_loss {total / count:.4f} tokens {count} train_seconds {elapsed:.1f}")
        return
    warmup, steps = int(sys.argv[2]), int(sys.argv[3])
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    elapsed = time.perf_counter() - start
    print(f"ms_per_step {1000 * elapsed / steps:.4f} threads {torch.get_num_threads()} loss {loss:.4f}")


if __name__ == "__main__":
    main()
