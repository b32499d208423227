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
mod quant;

use crate::SampleOptions;
use crate::config::{Mlp, Positions};
use crate::gpt::Gpt;
use crate::layers::{LN_EPS, LayerNorm, Linear, QK_NORM_EPS, rope_angles};
use gemm::Parallelism;
use quant::{Q8Matrix, Q8Row};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
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

/// How the native decoder keeps the weights of its matrices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weights {
    /// As trained.
    #[default]
    F32,
    /// Symmetric int8 in groups of 32 inputs with an f32 scale each, made when the
    /// model is loaded; the products quantize their inputs the same way.
    Int8,
}

impl FromStr for Weights {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Self::F32),
            "int8" => Ok(Self::Int8),
            _ => Err(format!("unknown weights {s:?}: expected \"f32\" or \"int8\"")),
        }
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Int8 => "int8",
        })
    }
}

/// A linear layer's weight, as [`Weights`] says.
enum Stored {
    /// Transposed, (d_in, d_out), and cut into panels of [`PANEL`] output columns, each
    /// (d_in, width) contiguous: a single row's product is then a sum of panel rows
    /// scaled by its inputs, streamed in order, with no horizontal sums, and a thread
    /// can own whole panels.
    F32(Vec<f32>),
    Int8(Q8Matrix),
}

/// A linear layer and its optional bias.
struct Dense {
    stored: Stored,
    b: Option<Vec<f32>>,
    d_in: usize,
    d_out: usize,
}

impl Dense {
    fn copy(linear: &Linear, weights: Weights) -> Result<Self, TchError> {
        let b = linear.bs.as_ref().map(to_vec).transpose()?;
        Self::new(&linear.ws, b, weights)
    }

    fn new(w: &Tensor, b: Option<Vec<f32>>, weights: Weights) -> Result<Self, TchError> {
        let (d_out, d_in) = w.size2()?;
        let (d_in, d_out) = (d_in as usize, d_out as usize);
        let stored = match weights {
            Weights::Int8 => Stored::Int8(Q8Matrix::new(&to_vec(w)?, d_out, d_in)),
            Weights::F32 => {
                let wt = to_vec(&w.transpose(0, 1))?;
                let mut panels = Vec::with_capacity(wt.len());
                for start in (0..d_out).step_by(PANEL) {
                    let width = PANEL.min(d_out - start);
                    wt.chunks_exact(d_out).for_each(|row| panels.extend_from_slice(&row[start..start + width]));
                }
                Stored::F32(panels)
            }
        };
        Ok(Self { stored, b, d_in, d_out })
    }

    /// `out` (rows, d_out) = `x` (rows, d_in) · Wᵀ + b, or `out +=` that when `accumulate`,
    /// on `threads` threads.
    fn apply(&self, x: &[f32], out: &mut [f32], accumulate: bool, threads: usize) {
        let rows = x.len() / self.d_in;
        assert!(x.len() == rows * self.d_in && out.len() == rows * self.d_out, "linear layer shapes");
        match &self.stored {
            Stored::Int8(m) if rows == 1 => {
                // Each thread a share of whole panels.
                let share = self.d_out.div_ceil(threads.max(1)).div_ceil(PANEL) * PANEL;
                let mut q = Q8Row::default();
                q.quantize(x);
                for_chunks(out, share, threads, |p, y| m.gemv(&q, p * share, y, accumulate));
            }
            Stored::Int8(m) => {
                // Several rows: each thread takes a share of the rows.
                let qs: Vec<Q8Row> = x
                    .chunks_exact(self.d_in)
                    .map(|x| {
                        let mut q = Q8Row::default();
                        q.quantize(x);
                        q
                    })
                    .collect();
                let share = rows.div_ceil(threads.max(1));
                for_chunks(out, share * self.d_out, threads, |part, out| {
                    m.gemm(&qs[part * share..][..out.len() / self.d_out], out, accumulate);
                });
            }
            Stored::F32(panels) if rows == 1 => {
                for_chunks(out, PANEL, threads, |p, y| {
                    kernels::gemv(x, &panels[p * PANEL * self.d_in..], y.len(), y, accumulate);
                });
            }
            Stored::F32(panels) => {
                // Several rows: each thread takes a share of the rows, through every panel.
                let share = rows.div_ceil(threads.max(1)) * self.d_out;
                for_chunks(out, share, threads, |part, out| {
                    let x = &x[part * share / self.d_out * self.d_in..][..out.len() / self.d_out * self.d_in];
                    self.apply_rows(panels, x, out, accumulate);
                });
            }
        }
        if let Some(b) = &self.b {
            for row in out.chunks_exact_mut(self.d_out) {
                row.iter_mut().zip(b).for_each(|(o, b)| *o += b);
            }
        }
    }

    /// `out` (rows, d_out) = `x` (rows, d_in) · Wᵀ, or `out +=` that, on this thread: one
    /// gemm per panel of `panels`.
    fn apply_rows(&self, panels: &[f32], x: &[f32], out: &mut [f32], accumulate: bool) {
        let rows = x.len() / self.d_in;
        assert!(x.len() == rows * self.d_in && out.len() == rows * self.d_out, "linear layer shapes");
        for (p, start) in (0..self.d_out).step_by(PANEL).enumerate() {
            let width = PANEL.min(self.d_out - start);
            let panel = &panels[p * PANEL * self.d_in..][..self.d_in * width];
            let dims = (rows, width, self.d_in);
            matmul(dims, (&mut out[start..], self.d_out), (x, self.d_in), (panel, width), 1.0, accumulate);
        }
    }
}

/// Columns per panel of a [`Dense`] layer's single-row layout, and outputs per share of
/// a thread: whole blocks of the int8 layout.
const PANEL: usize = 64;
const _: () = assert!(PANEL.is_multiple_of(quant::BLOCK));

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
    head: Dense,           // the output head: the embedding, or the untied head
    wpe: Option<Vec<f32>>, // (block_size, C) with learned positions
    rope: bool,
    qk_norm: bool,
    mlp: Mlp,
    logit_softcap: f32, // 0: off
    layers: Vec<Layer>,
    ln_f: Norm,
}

/// Keys and values of every layer for the positions a [`NativeModel`] has seen, for a
/// batch of rows. A ring of `block_size + MAX_DRAFT` slots per head (room for a step of
/// drafted tokens past a full context): position `p` sits in slot `p % slots`, so that
/// dropping the oldest position moves nothing. Keys are kept
/// transposed, (hs, slots) per head, so that a query's scores are a sum of key rows
/// scaled by the query (no horizontal sum per key).
pub struct NativeCache {
    rows: usize,
    len: usize,
    position: usize,
    slots: usize,
    keys: Vec<Vec<f32>>,   // per layer: (rows, nh, hs, slots)
    values: Vec<Vec<f32>>, // per layer: (rows, nh, slots, hs)
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

    /// Forgets the `n` newest positions (drafted tokens that were rejected): the next
    /// token takes the first one's place.
    pub fn drop_newest(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.position -= n;
    }
}

/// Which positions' logits [`NativeModel::forward`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readout {
    /// Each row's last.
    Last,
    /// Every new position's.
    All,
}

impl NativeModel {
    /// Copies the weights of `model` (on any device) into CPU buffers, its matrices as
    /// `weights` says (the embedding table stays f32: a step reads one of its rows).
    pub fn new(model: &Gpt, weights: Weights) -> Result<Self, TchError> {
        let config = model.config();
        let layers = model
            .blocks
            .iter()
            .map(|b| {
                Ok(Layer {
                    ln_1: Norm::copy(&b.ln_1)?,
                    c_attn: Dense::copy(&b.attn.c_attn, weights)?,
                    attn_proj: Dense::copy(&b.attn.c_proj, weights)?,
                    ln_2: Norm::copy(&b.ln_2)?,
                    c_fc: Dense::copy(&b.c_fc, weights)?,
                    mlp_proj: Dense::copy(&b.c_proj, weights)?,
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
            head: match &model.lm_head {
                Some(head) => Dense::copy(head, weights)?,
                None => Dense::new(&model.wte, None, weights)?,
            },
            wpe: model.wpe.as_ref().map(to_vec).transpose()?,
            rope: config.positions == Positions::Rope,
            qk_norm: config.qk_norm,
            mlp: config.mlp,
            logit_softcap: config.logit_softcap as f32,
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
        let slots = self.block_size + SampleOptions::MAX_DRAFT;
        let size = rows * self.n_embd * slots;
        NativeCache {
            rows,
            len: 0,
            position: 0,
            slots,
            keys: (0..self.layers.len()).map(|_| vec![0.0; size]).collect(),
            values: (0..self.layers.len()).map(|_| vec![0.0; size]).collect(),
        }
    }

    /// Feeds `t` new tokens per row after the cached ones and returns the logits after
    /// each row's last token, (rows, V), or with [`Readout::All`] after each new token,
    /// (rows, t, V). `tokens` is (rows, t), row-major, every id below the vocabulary
    /// size. Each new token attends to its last `block_size` positions at most. The cache
    /// must have room, `len + t ≤ block_size + MAX_DRAFT`, and with learned positions
    /// `position + t ≤ block_size` (the sampler keeps both). The
    /// products use `threads` threads of rayon's pool (1: the calling thread alone).
    pub fn forward(
        &self,
        tokens: &[u32],
        t: usize,
        cache: &mut NativeCache,
        threads: usize,
        readout: Readout,
    ) -> Vec<f32> {
        let (rows, c, hs, nh) = (cache.rows, self.n_embd, self.head_size, self.n_head);
        let (cap, window) = (cache.slots, self.block_size);
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
                if self.qk_norm {
                    qkv[..2 * c].chunks_exact_mut(hs).for_each(rms_norm);
                }
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
            let first = (cache.position - cache.len) % cap; // ring slot of the oldest position
            if t > 1 && first + cache.len + t <= cap && cache.len + t <= window {
                // A prompt: per row and head, all its queries at once as matrix products.
                let mut heads = vec![0.0f32; rows * nh * t * hs]; // (rows, nh, t, hs)
                for_chunks(&mut heads, t * hs, threads, |u, out| {
                    let (r, head) = (u / nh, u % nh);
                    let base = (r * nh + head) * cap * hs;
                    let q = &qkv[r * t * 3 * c + head * hs..];
                    let (k, v) = (&keys[base..][..cap * hs], &values[base..][..cap * hs]);
                    attend_prompt(q, 3 * c, k, v, first, cache.len, scale, hs, out);
                });
                for (u, head) in heads.chunks_exact(t * hs).enumerate() {
                    let (r, h0) = (u / nh, (u % nh) * hs);
                    for (i, src) in head.chunks_exact(hs).enumerate() {
                        y[(r * t + i) * c + h0..][..hs].copy_from_slice(src);
                    }
                }
            } else {
                // One unit per row, new token and head: the head's slice of y.
                for_chunks(&mut y, hs, threads, |u, out| {
                    let (j, head) = (u / nh, u % nh);
                    let (r, i) = (j / t, j % t);
                    // Token i sees the cached positions and the new ones up to itself,
                    // the last `window` of them.
                    let seen = (cache.len + i + 1).min(window);
                    let first = (cache.position + i + 1 - seen) % cap;
                    let base = (r * nh + head) * cap * hs;
                    let q = &qkv[j * 3 * c + head * hs..][..hs];
                    attend(q, &keys[base..][..cap * hs], &values[base..][..cap * hs], first, seen, scale, out);
                });
            }
            layer.attn_proj.apply(&y, &mut x, true, par);
            layer.ln_2.apply(&x, &mut h);
            layer.c_fc.apply(&h, &mut f, false, par);
            match self.mlp {
                Mlp::Gelu => kernels::gelu_in_place(&mut f),
                Mlp::GeluTanh => kernels::gelu_tanh_in_place(&mut f),
                Mlp::Relu2 => f.iter_mut().for_each(|v| *v = v.max(0.0) * v.max(0.0)),
            }
            layer.mlp_proj.apply(&f, &mut x, true, par);
        }
        cache.len += t;
        cache.position += t;
        let read: Vec<f32> = match readout {
            Readout::All => x, // (rows · t, C)
            Readout::Last => x.chunks_exact(c).skip(t - 1).step_by(t).flatten().copied().collect(), // (rows, C)
        };
        let mut hl = vec![0.0f32; read.len()];
        self.ln_f.apply(&read, &mut hl);
        let mut logits = vec![0.0f32; read.len() / c * self.vocab_size];
        self.head.apply(&hl, &mut logits, false, par);
        if self.logit_softcap > 0.0 {
            let cap = self.logit_softcap;
            logits.iter_mut().for_each(|l| *l = cap * (*l / cap).tanh());
        }
        logits
    }
}

/// Runs `f(i, chunk)` on each chunk of `size` values of `out`, dealt out as `groups`
/// contiguous groups to the threads of the current rayon pool (1: all on this thread).
/// With as many groups as threads, a thread gets the same weights and the same heads'
/// cache at every step, and they stay in its core's cache.
fn for_chunks(out: &mut [f32], size: usize, groups: usize, f: impl Fn(usize, &mut [f32]) + Send + Sync) {
    let per = out.len().div_ceil(size).div_ceil(groups.max(1)).max(1);
    if groups > 1 && out.len() > per * size {
        out.par_chunks_mut(per * size).enumerate().for_each(|(g, group)| {
            group.chunks_mut(size).enumerate().for_each(|(i, chunk)| f(g * per + i, chunk));
        });
    } else {
        out.chunks_mut(size).enumerate().for_each(|(i, chunk)| f(i, chunk));
    }
}

/// Divides one head's query or key (hs,) by its root mean square, as
/// `layers::rms_norm` does.
fn rms_norm(head: &mut [f32]) {
    let mean_square = head.iter().map(|v| v * v).sum::<f32>() / head.len() as f32;
    let inv = 1.0 / (mean_square + QK_NORM_EPS as f32).sqrt();
    head.iter_mut().for_each(|v| *v *= inv);
}

/// Rotates one head (hs,) in the half-split convention by `angles` (hs/2 of (cos, sin)).
fn rotate(head: &mut [f32], angles: &[(f32, f32)]) {
    let (x1, x2) = head.split_at_mut(angles.len());
    for ((a, b), &(cos, sin)) in x1.iter_mut().zip(x2.iter_mut()).zip(angles) {
        (*a, *b) = (*a * cos - *b * sin, *b * cos + *a * sin);
    }
}

/// Causal attention of the new queries of one head over `past` cached positions and
/// themselves, none wrapping round the ring. Query `i` is row `i` of `q` (rows
/// `q_stride` apart, `hs` values each); the positions sit in ring slots
/// `first..first + past + t` of `keys` (hs, slots) and `values` (slots, hs); `out`
/// (t, hs) gets the mixes.
#[allow(clippy::too_many_arguments)]
fn attend_prompt(
    q: &[f32],
    q_stride: usize,
    keys: &[f32],
    values: &[f32],
    first: usize,
    past: usize,
    scale: f32,
    hs: usize,
    out: &mut [f32],
) {
    let (t, cap) = (out.len() / hs, keys.len() / hs);
    let n = past + t; // positions the last query sees
    let mut scores = vec![0.0f32; t * n]; // (t, n)
    // scores = scale · Q Kᵀ[:, first..first + n]
    matmul((t, n, hs), (&mut scores, n), (q, q_stride), (&keys[first..], cap), scale, false);
    for (i, row) in scores.chunks_exact_mut(n).enumerate() {
        let seen = past + i + 1;
        kernels::softmax_in_place(&mut row[..seen]);
        row[seen..].fill(0.0);
    }
    // out = P V[first..first + n]
    matmul((t, hs, n), (out, hs), (&scores, n), (&values[first * hs..], hs), 1.0, false);
}

/// `dst (m, n) = beta · lhs (m, k) · rhs (k, n)`, or `dst +=` that when `accumulate`,
/// on this thread. Each matrix is a slice and its row stride; rows are contiguous.
fn matmul(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs): (&mut [f32], usize),
    (lhs, lhs_rs): (&[f32], usize),
    (rhs, rhs_rs): (&[f32], usize),
    beta: f32,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    let fits = |len: usize, rows: usize, stride: usize, cols: usize| rows == 0 || (rows - 1) * stride + cols <= len;
    assert!(
        fits(dst.len(), m, dst_rs, n) && fits(lhs.len(), m, lhs_rs, k) && fits(rhs.len(), k, rhs_rs, n),
        "matrix shapes"
    );
    // SAFETY: the assert keeps every element gemm reads or writes inside the slices:
    // dst (m, n), lhs (m, k) and rhs (k, n), each row-major with its row stride.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            1,
            lhs_rs as isize,
            rhs.as_ptr(),
            1,
            rhs_rs as isize,
            1.0,
            beta,
            false,
            false,
            false,
            Parallelism::None,
        );
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
