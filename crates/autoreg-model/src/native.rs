//! The native decoder: incremental sampling on the CPU with no libtorch call per step.
//!
//! At batch 1 a small model's step is a few microseconds of arithmetic per layer, and
//! the libtorch path spends most of its time dispatching and allocating for the dozens
//! of operations a token takes. This path copies the weights once out of the [`Gpt`]
//! into plain buffers and runs a step as a handful of matrix products and fused loops.
//!
//! Products of several rows (a batch, a prompt) go through the `gemm` crate, which picks
//! AVX2 or AVX-512 kernels at run time (`matrixmultiply` has no AVX-512 kernels). A single
//! row goes through [`kernels::gemv`], for the reason given there. The norms, GELU,
//! rotary positions and the softmax over the cache are loops written here: a few lines
//! each, which no crate offers over plain slices.

mod kernels;

use crate::config::Positions;
use crate::gpt::Gpt;
use crate::layers::{LN_EPS, LayerNorm, Linear, rope_angles};
use gemm::Parallelism;
use rayon::prelude::*;
use tch::{Device, Kind, TchError, Tensor};

/// A tensor's values in f32, row-major, on the CPU.
fn to_vec(t: &Tensor) -> Result<Vec<f32>, TchError> {
    Vec::<f32>::try_from(t.detach().to_device(Device::Cpu).to_kind(Kind::Float).contiguous().view([-1]))
}

/// A layer norm's weight and optional bias.
struct Norm {
    w: Vec<f32>,
    b: Option<Vec<f32>>,
}

impl Norm {
    fn copy(norm: &LayerNorm) -> Result<Self, TchError> {
        Ok(Self { w: to_vec(&norm.ws)?, b: norm.bs.as_ref().map(to_vec).transpose()? })
    }

    /// Normalises each row of `x` (rows, C) into `out` (rows, C).
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        let c = self.w.len();
        for (x, out) in x.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
            let mean = x.iter().sum::<f32>() / c as f32;
            let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / c as f32;
            let inv = 1.0 / (var + LN_EPS as f32).sqrt();
            for ((o, v), w) in out.iter_mut().zip(x).zip(&self.w) {
                *o = (v - mean) * inv * w;
            }
            if let Some(b) = &self.b {
                out.iter_mut().zip(b).for_each(|(o, b)| *o += b);
            }
        }
    }
}

/// A linear layer: the transpose of libtorch's weight, (d_in, d_out) row-major, so that
/// a single row's product runs as a sum of weight rows scaled by its inputs (gemm's
/// column-major matrix-vector kernel, with no horizontal sums), and an optional bias.
struct Dense {
    wt: Vec<f32>,
    /// Wᵀ again, cut into panels of [`PANEL`] columns, each (d_in, PANEL) contiguous, so
    /// that a single row's product streams through memory in order.
    panels: Vec<f32>,
    b: Option<Vec<f32>>,
    d_in: usize,
    d_out: usize,
}

impl Dense {
    fn copy(linear: &Linear) -> Result<Self, TchError> {
        let b = linear.bs.as_ref().map(to_vec).transpose()?;
        Self::new(&linear.ws, b)
    }

    fn new(w: &Tensor, b: Option<Vec<f32>>) -> Result<Self, TchError> {
        let (d_out, d_in) = w.size2()?;
        let (d_in, d_out) = (d_in as usize, d_out as usize);
        let wt = to_vec(&w.transpose(0, 1))?;
        let mut panels = Vec::with_capacity(wt.len());
        for start in (0..d_out).step_by(PANEL) {
            let width = PANEL.min(d_out - start);
            wt.chunks_exact(d_out).for_each(|row| panels.extend_from_slice(&row[start..start + width]));
        }
        Ok(Self { wt, panels, b, d_in, d_out })
    }

    /// `out` (rows, d_out) = `x` (rows, d_in) · Wᵀ + b, or `out +=` that when `accumulate`,
    /// on `threads` threads.
    fn apply(&self, x: &[f32], out: &mut [f32], accumulate: bool, threads: usize) {
        let parallelism = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
        let rows = x.len() / self.d_in;
        assert!(x.len() == rows * self.d_in && out.len() == rows * self.d_out, "linear layer shapes");
        if rows == 1 {
            let panels = &self.panels;
            for_chunks(out, PANEL, threads, |p, y| {
                kernels::gemv(x, &panels[p * PANEL * self.d_in..], y.len(), y, accumulate);
            });
        } else {
            // SAFETY: with the shapes checked above, every element gemm reads or writes lies
            // inside `x`, `self.wt` and `out`: lhs (rows, d_in), rhs Wᵀ (d_in, d_out) and
            // dst (rows, d_out), all row-major.
            unsafe {
                gemm::gemm(
                    rows,
                    self.d_out,
                    self.d_in,
                    out.as_mut_ptr(),
                    1,
                    self.d_out as isize,
                    accumulate,
                    x.as_ptr(),
                    1,
                    self.d_in as isize,
                    self.wt.as_ptr(),
                    1,
                    self.d_out as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
        }
        if let Some(b) = &self.b {
            for row in out.chunks_exact_mut(self.d_out) {
                row.iter_mut().zip(b).for_each(|(o, b)| *o += b);
            }
        }
    }
}

/// Columns per panel of a [`Dense`] layer's single-row layout.
const PANEL: usize = 64;

/// One transformer block's weights.
struct Layer {
    ln_1: Norm,
    c_attn: Dense,
    attn_proj: Dense,
    ln_2: Norm,
    c_fc: Dense,
    mlp_proj: Dense,
}

/// The decoder's weights, copied out of a [`Gpt`], for decoding on the CPU.
pub struct NativeModel {
    n_head: usize,
    head_size: usize,
    n_embd: usize,
    block_size: usize,
    vocab_size: usize,
    wte: Vec<f32>,         // (V, C): the token embedding
    head: Dense,           // the output head, tied to the embedding
    wpe: Option<Vec<f32>>, // (block_size, C) with learned positions
    rope: bool,
    layers: Vec<Layer>,
    ln_f: Norm,
}

/// Keys and values of every layer for the positions a [`NativeModel`] has seen, for a
/// batch of rows. A ring of `block_size` slots per head: position `p` sits in slot
/// `p % block_size`, so that dropping the oldest position moves nothing. Keys are kept
/// transposed, (hs, slots) per head, so that a query's scores are a sum of key rows
/// scaled by the query (no horizontal sum per key).
pub struct NativeCache {
    rows: usize,
    len: usize,
    position: usize,
    keys: Vec<Vec<f32>>,   // per layer: (rows, nh, hs, block_size)
    values: Vec<Vec<f32>>, // per layer: (rows, nh, block_size, hs)
}

impl NativeCache {
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every position; the next token sits at position 0.
    pub fn clear(&mut self) {
        (self.len, self.position) = (0, 0);
    }

    /// Forgets the oldest position (rotary models: see [`crate::KvCache::drop_oldest`]).
    pub fn drop_oldest(&mut self) {
        self.len = self.len.saturating_sub(1);
    }
}

impl NativeModel {
    /// Copies the weights of `model` (on any device) into CPU buffers.
    pub fn new(model: &Gpt) -> Result<Self, TchError> {
        let config = model.config();
        let layers = model
            .blocks
            .iter()
            .map(|b| {
                Ok(Layer {
                    ln_1: Norm::copy(&b.ln_1)?,
                    c_attn: Dense::copy(&b.attn.c_attn)?,
                    attn_proj: Dense::copy(&b.attn.c_proj)?,
                    ln_2: Norm::copy(&b.ln_2)?,
                    c_fc: Dense::copy(&b.c_fc)?,
                    mlp_proj: Dense::copy(&b.c_proj)?,
                })
            })
            .collect::<Result<_, TchError>>()?;
        Ok(Self {
            n_head: config.n_head as usize,
            head_size: (config.n_embd / config.n_head) as usize,
            n_embd: config.n_embd as usize,
            block_size: config.block_size as usize,
            vocab_size: model.vocab_size() as usize,
            wte: to_vec(&model.wte)?,
            head: Dense::new(&model.wte, None)?,
            wpe: model.wpe.as_ref().map(to_vec).transpose()?,
            rope: config.positions == Positions::Rope,
            layers,
            ln_f: Norm::copy(&model.ln_f)?,
        })
    }

    /// Number of token ids.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// An empty cache for a batch of `rows`.
    pub fn new_cache(&self, rows: usize) -> NativeCache {
        let size = rows * self.n_embd * self.block_size;
        NativeCache {
            rows,
            len: 0,
            position: 0,
            keys: (0..self.layers.len()).map(|_| vec![0.0; size]).collect(),
            values: (0..self.layers.len()).map(|_| vec![0.0; size]).collect(),
        }
    }

    /// Feeds `t` new tokens per row after the cached ones and returns the logits after
    /// each row's last token: (rows, V). `tokens` is (rows, t), row-major, every id below
    /// the vocabulary size. The cache must have room: `len + t ≤ block_size`, and with
    /// learned positions `position + t ≤ block_size` (the sampler keeps both). The
    /// products use `threads` threads of rayon's pool (1: the calling thread alone).
    pub fn forward(&self, tokens: &[u32], t: usize, cache: &mut NativeCache, threads: usize) -> Vec<f32> {
        let (rows, c, hs, nh) = (cache.rows, self.n_embd, self.head_size, self.n_head);
        let cap = self.block_size;
        assert!(tokens.len() == rows * t && t > 0 && cache.len + t <= cap, "native decoder: cache overflow");
        let m = rows * t;
        let par = threads;
        // The residual stream of every new token, (m, C).
        let mut x = vec![0.0f32; m * c];
        for (i, (&tok, x)) in tokens.iter().zip(x.chunks_exact_mut(c)).enumerate() {
            x.copy_from_slice(&self.wte[tok as usize * c..][..c]);
            if let Some(wpe) = &self.wpe {
                let pos = cache.position + i % t;
                x.iter_mut().zip(&wpe[pos * c..][..c]).for_each(|(x, p)| *x += p);
            }
        }
        let mut h = vec![0.0f32; m * c]; // (m, C)
        let mut qkv = vec![0.0f32; m * 3 * c]; // (m, 3C)
        let mut y = vec![0.0f32; m * c]; // (m, C)
        let mut f = vec![0.0f32; m * 4 * c]; // (m, 4C)
        // Each new token's rotary angles, (t, hs/2).
        let angles: Vec<(f32, f32)> = if self.rope {
            (0..t).flat_map(|i| rope_angles((cache.position + i) as i64, hs as i64)).collect()
        } else {
            Vec::new()
        };
        let scale = 1.0 / (hs as f32).sqrt();
        for (l, layer) in self.layers.iter().enumerate() {
            layer.ln_1.apply(&x, &mut h);
            layer.c_attn.apply(&h, &mut qkv, false, par);
            let (keys, values) = (&mut cache.keys[l], &mut cache.values[l]);
            for (j, qkv) in qkv.chunks_exact_mut(3 * c).enumerate() {
                let (r, i) = (j / t, j % t);
                if self.rope {
                    let angles = &angles[i * hs / 2..][..hs / 2];
                    qkv[..2 * c].chunks_exact_mut(hs).for_each(|head| rotate(head, angles));
                }
                // This token's keys and values go into its slot of the ring.
                let slot = (cache.position + i) % cap;
                for head in 0..nh {
                    let base = (r * nh + head) * cap * hs;
                    let k = &qkv[c + head * hs..][..hs];
                    k.iter().enumerate().for_each(|(d, &k)| keys[base + d * cap + slot] = k);
                    values[base + slot * hs..][..hs].copy_from_slice(&qkv[2 * c + head * hs..][..hs]);
                }
            }
            let (keys, values, qkv) = (&*keys, &*values, &qkv);
            // One unit per row, new token and head: the head's slice of y.
            for_chunks(&mut y, hs, threads, |u, out| {
                let (j, head) = (u / nh, u % nh);
                let (r, i) = (j / t, j % t);
                // Token i sees the cached positions and the new ones up to itself.
                let seen = cache.len + i + 1;
                let first = (cache.position + i + 1 - seen) % cap;
                let base = (r * nh + head) * cap * hs;
                let q = &qkv[j * 3 * c + head * hs..][..hs];
                attend(q, &keys[base..][..cap * hs], &values[base..][..cap * hs], first, seen, scale, out);
            });
            layer.attn_proj.apply(&y, &mut x, true, par);
            layer.ln_2.apply(&x, &mut h);
            layer.c_fc.apply(&h, &mut f, false, par);
            kernels::gelu_in_place(&mut f);
            layer.mlp_proj.apply(&f, &mut x, true, par);
        }
        cache.len += t;
        cache.position += t;
        // Only each row's last token is read out.
        let last: Vec<f32> = x.chunks_exact(c).skip(t - 1).step_by(t).flatten().copied().collect(); // (rows, C)
        let mut hl = vec![0.0f32; rows * c];
        self.ln_f.apply(&last, &mut hl);
        let mut logits = vec![0.0f32; rows * self.vocab_size];
        self.head.apply(&hl, &mut logits, false, par);
        logits
    }
}

/// Runs `f(i, chunk)` on each chunk of `size` values of `out`, on `threads` threads of
/// the current rayon pool. The chunks are dealt out as `threads` contiguous groups, so
/// that a thread gets the same weights and the same heads' cache at every step, and
/// they stay in its core's cache.
fn for_chunks(out: &mut [f32], size: usize, threads: usize, f: impl Fn(usize, &mut [f32]) + Send + Sync) {
    let per = out.len().div_ceil(size).div_ceil(threads.max(1)).max(1);
    let group = |(g, group): (usize, &mut [f32])| {
        group.chunks_mut(size).enumerate().for_each(|(i, chunk)| f(g * per + i, chunk));
    };
    if threads > 1 {
        out.par_chunks_mut(per * size).enumerate().for_each(group);
    } else {
        out.chunks_mut(size).enumerate().for_each(|(i, chunk)| f(i, chunk));
    }
}

/// Rotates one head (hs,) in the half-split convention by `angles` (hs/2 of (cos, sin)).
fn rotate(head: &mut [f32], angles: &[(f32, f32)]) {
    let (x1, x2) = head.split_at_mut(angles.len());
    for ((a, b), &(cos, sin)) in x1.iter_mut().zip(x2.iter_mut()).zip(angles) {
        (*a, *b) = (*a * cos - *b * sin, *b * cos + *a * sin);
    }
}

/// Attention of one query `q` (hs,) over `seen` cached positions of one head, starting
/// at ring slot `first` of `keys` (hs, slots) and `values` (slots, hs); writes the mix
/// into `out`.
#[allow(clippy::too_many_arguments)]
fn attend(q: &[f32], keys: &[f32], values: &[f32], first: usize, seen: usize, scale: f32, out: &mut [f32]) {
    let hs = q.len();
    let cap = keys.len() / hs;
    let mut scores = vec![0.0f32; seen];
    // The seen slots as at most two runs: first..cap, then 0.. when the ring wraps.
    let head = seen.min(cap - first);
    let runs = [(first, 0, head), (0, head, seen - head)];
    let q: Vec<f32> = q.iter().map(|v| v * scale).collect();
    for &(slot, at, n) in &runs {
        // scores[at..at + n] = scale · q Kᵀ[:, slot..slot + n]
        kernels::gemv(&q, &keys[slot..], cap, &mut scores[at..at + n], false);
    }
    kernels::softmax_in_place(&mut scores);
    out.fill(0.0);
    for &(slot, at, n) in &runs {
        // out += scores[at..at + n] V[slot..slot + n]
        kernels::gemv(&scores[at..at + n], &values[slot * hs..], hs, out, true);
    }
}
