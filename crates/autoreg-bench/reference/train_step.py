"""PyTorch reference for bench `train_step`: nanoGPT's character-level Shakespeare model
(4 layers, 4 heads, 128 wide, block 64, no bias, dropout 0, tied head) trained with
torch.optim.AdamW (betas 0.9/0.99, weight decay 0.1 on matrices) and gradient clipping 1.0,
batch 12, on random windows of tiny shakespeare.

Usage: python train_step.py INPUT_TXT --serve [--rope]
       python train_step.py INPUT_TXT --full SEED [--rope]
       python train_step.py INPUT_TXT --curve SEED [--rope]

--serve keeps one model training: each line N read from standard input runs N more steps
and answers `ms_per_step MS threads N loss L`, so that the benchmark can alternate short
rounds of both implementations in one process each.

--full trains nanoGPT's 2,000-step schedule (warm-up 100, cosine decay from 1e-3 to 1e-4)
on the first 90% of the text and prints the validation loss over the last 10% in
non-overlapping windows of 64, as `autoreg eval` computes it: the quality reference.

--curve trains the same 2,000 steps and, as nanoGPT's CPU recipe does (eval_interval 250,
eval_iters 20), prints at steps 0, 250, ..., 2000 the mean loss of 20 random validation
batches and the wall time so far, evaluations included: `step S val V seconds T`. Then
it prints the loss over the whole validation split in windows that advance by 32, as
`autoreg eval` computes it by default (every token past the first window sees at least
32 before it): `whole V tokens N stride 32`.

--rope replaces the learned position embedding by rotary positions (half-split pairs,
queries and keys rotated in one call, as autoreg does it).
"""
import math
import sys
import time

import torch
import torch.nn as nn
from torch.nn import functional as F

N_LAYER, N_HEAD, N_EMBD, BLOCK, BATCH = 4, 4, 128, 64, 12


class Rope(nn.Module):
    def __init__(self):
        super().__init__()
        hs = N_EMBD // N_HEAD
        inv_freq = torch.exp(torch.arange(0, hs, 2).float() / hs * -math.log(10000.0))
        freqs = torch.outer(torch.arange(BLOCK).float(), inv_freq)  # (T, hs/2)
        self.register_buffer("cos", torch.cat([freqs.cos(), freqs.cos()], 1).unsqueeze(1))  # (T, 1, hs)
        self.register_buffer("sin", torch.cat([-freqs.sin(), freqs.sin()], 1).unsqueeze(1))

    def forward(self, x):  # (B, T, H, hs)
        T, hs = x.size(1), x.size(3)
        return x * self.cos[:T] + x.roll(hs // 2, 3) * self.sin[:T]


class Block(nn.Module):
    def __init__(self, rope):
        super().__init__()
        self.rope = rope
        self.ln_1 = nn.LayerNorm(N_EMBD, bias=False)
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD, bias=False)
        self.attn_proj = nn.Linear(N_EMBD, N_EMBD, bias=False)
        self.ln_2 = nn.LayerNorm(N_EMBD, bias=False)
        self.c_fc = nn.Linear(N_EMBD, 4 * N_EMBD, bias=False)
        self.mlp_proj = nn.Linear(4 * N_EMBD, N_EMBD, bias=False)

    def forward(self, x):
        B, T, C = x.size()
        qkv = self.c_attn(self.ln_1(x)).view(B, T, 3 * N_HEAD, C // N_HEAD)
        qk, v = qkv[:, :, : 2 * N_HEAD], qkv[:, :, 2 * N_HEAD :]
        if self.rope is not None:
            qk = self.rope(qk)
        q, k, v = (t.transpose(1, 2) for t in (qk[:, :, :N_HEAD], qk[:, :, N_HEAD:], v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, rope):
        super().__init__()
        self.wte = nn.Embedding(vocab, N_EMBD)
        self.wpe = None if rope else nn.Embedding(BLOCK, N_EMBD)
        rope = Rope() if rope else None
        self.h = nn.ModuleList(Block(rope) for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD, bias=False)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)
        for b in self.h:
            nn.init.normal_(b.attn_proj.weight, 0.0, 0.02 / math.sqrt(2 * N_LAYER))
            nn.init.normal_(b.mlp_proj.weight, 0.0, 0.02 / math.sqrt(2 * N_LAYER))

    def logits(self, idx):
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(idx.size(1)))
        for b in self.h:
            x = b(x)
        return F.linear(self.ln_f(x), self.wte.weight)

    def forward(self, idx, targets):
        logits = self.logits(idx)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def lr_at(it, lr=1e-3, min_lr=1e-4, warmup=100, decay=2000):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it >= decay:
        return min_lr
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * (it - warmup) / (decay - warmup))) * (lr - min_lr)


def strided_loss(model, val, stride=32):
    """Mean loss over every target of `val`, each predicted once: the first window reads
    val[:BLOCK]; each later one scores the next `stride` tokens after the previous
    window's, with BLOCK tokens of input ending just before the last of them."""
    windows = [(0, min(BLOCK, len(val) - 1), 0)]  # (input start, input end, first scored)
    nxt = windows[0][1] + 1
    while nxt < len(val):
        end = min(nxt + stride, len(val))
        windows.append((end - 1 - BLOCK, end - 1, nxt - 1))
        nxt = end
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(windows), 256):
            chunk = windows[i : i + 256]
            x = torch.stack([val[a:b] for a, b, _ in chunk])  # (B, BLOCK); the first window is full
            y = torch.stack([val[a + 1 : b + 1] for a, b, _ in chunk])
            for j, (a, _, scored) in enumerate(chunk):
                y[j, : scored - a] = -1
            logits = model.logits(x)
            total += F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1, reduction="sum").item()
            count += int((y >= 0).sum())
    model.train()
    return total / count, count


def main():
    rope = "--rope" in sys.argv
    args = [a for a in sys.argv if a != "--rope"]
    path = args[1]
    full = args[2] == "--full"
    text = open(path, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    split = full or args[2] == "--curve"
    train, val = (data[:n], data[n:]) if split else (data, data)
    torch.manual_seed(int(args[3]) if split else 1337)
    model = GPT(len(chars) + 3, rope)  # the same vocabulary as autoreg's (65 characters + 3 specials)
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

    if args[2] == "--curve":
        start = time.perf_counter()

        def estimate():
            model.eval()
            with torch.no_grad():
                losses = []
                for _ in range(20):
                    ix = torch.randint(len(val) - BLOCK - 1, (BATCH,))
                    x = torch.stack([val[i : i + BLOCK] for i in ix])
                    y = torch.stack([val[i + 1 : i + 1 + BLOCK] for i in ix])
                    losses.append(model(x, y).item())
            model.train()
            return sum(losses) / len(losses)

        for it in range(2001):
            if it % 250 == 0:
                print(f"step {it} val {estimate():.4f} seconds {time.perf_counter() - start:.2f}", flush=True)
            if it == 2000:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(it)
            step()
        loss, count = strided_loss(model, val)
        print(f"whole {loss:.4f} tokens {count} stride 32", flush=True)
        return
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
    for line in sys.stdin:
        steps = int(line)
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        elapsed = time.perf_counter() - start
        print(f"ms_per_step {1000 * elapsed / steps:.4f} threads {torch.get_num_threads()} loss {loss:.4f}", flush=True)


if __name__ == "__main__":
    main()
