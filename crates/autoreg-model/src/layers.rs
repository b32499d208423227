//! The building blocks of the decoder, written out so that mixed precision is explicit:
//! weights stay in f32, matrix products run in the model's compute kind.

use tch::{Kind, Tensor, nn};

/// A linear layer `y = x Wᵀ + b` whose product runs in a chosen kind.
#[derive(Debug)]
pub(crate) struct Linear {
    pub ws: Tensor, // (d_out, d_in)
    pub bs: Option<Tensor>,
}

impl Linear {
    /// Weights drawn from N(0, std²) (zeros when `std` is 0), biases zero.
    pub fn new(p: nn::Path, d_in: i64, d_out: i64, bias: bool, std: f64) -> Self {
        let init = if std == 0.0 { nn::Init::Const(0.0) } else { nn::Init::Randn { mean: 0.0, stdev: std } };
        let ws = p.var("weight", &[d_out, d_in], init);
        let bs = bias.then(|| p.var("bias", &[d_out], nn::Init::Const(0.0)));
        Self { ws, bs }
    }

    /// `x` (..., d_in) -> (..., d_out) in `kind`; `x` is f32 or already in `kind`.
    pub fn forward(&self, x: &Tensor, kind: Kind) -> Tensor {
        if kind == Kind::Float {
            // Everything is f32 already: no casts (each would cost a call per layer).
            return x.linear(&self.ws, self.bs.as_ref());
        }
        let bs = self.bs.as_ref().map(|b| b.to_kind(kind));
        x.to_kind(kind).linear(&self.ws.to_kind(kind), bs.as_ref())
    }
}

/// The epsilon of every layer norm.
pub(crate) const LN_EPS: f64 = 1e-5;

/// Layer normalisation with an optional bias, computed in f32.
#[derive(Debug)]
pub(crate) struct LayerNorm {
    pub ws: Tensor,
    pub bs: Option<Tensor>,
    dim: i64,
}

impl LayerNorm {
    /// Weight one, bias zero.
    pub fn new(p: nn::Path, dim: i64, bias: bool) -> Self {
        let ws = p.var("weight", &[dim], nn::Init::Const(1.0));
        let bs = bias.then(|| p.var("bias", &[dim], nn::Init::Const(0.0)));
        Self { ws, bs, dim }
    }

    /// `x` (..., dim) -> (..., dim), both f32 (the residual stream stays in f32).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm([self.dim], Some(&self.ws), self.bs.as_ref(), LN_EPS, true)
    }
}

/// The epsilon of the queries' and keys' RMS norm (`model.qk_norm`).
pub(crate) const QK_NORM_EPS: f64 = 1e-6;

/// Each vector along the last dimension of `x` divided by its root mean square
/// (no weights): `x / sqrt(mean(x²) + ε)`.
pub(crate) fn rms_norm(x: &Tensor) -> Tensor {
    x * (x.square().mean_dim(-1, true, x.kind()) + QK_NORM_EPS).rsqrt()
}

/// `cap · tanh(logits / cap)`: logits squashed into (-cap, cap) (`model.logit_softcap`).
pub(crate) fn softcap(logits: &Tensor, cap: f64) -> Tensor {
    (logits / cap).tanh() * cap
}

/// Cosine and sine of each rotary pair's angle at position `pos`, for a head of
/// `head_size`: pair `i` turns by `pos · 10000^(-2i / head_size)`. Computed in f64, so that
/// positions far past `block_size` (a rolling cache) keep their precision; the libtorch
/// and the native decoder both take their angles from here.
pub(crate) fn rope_angles(pos: i64, head_size: i64) -> impl Iterator<Item = (f32, f32)> {
    (0..head_size / 2).map(move |i| {
        let angle = pos as f64 * 10_000f64.powf(-2.0 * i as f64 / head_size as f64);
        (angle.cos() as f32, angle.sin() as f32)
    })
}

/// Rotary position embedding in the half-split convention: dimension `i` of a head is
/// paired with dimension `i + head_size / 2`. Tables cover positions `0..block_size`;
/// later positions (a rolling cache) are computed when asked for.
#[derive(Debug)]
pub(crate) struct Rope {
    cos: Tensor, // (block_size, 1, head_size): cos of each pair's angle, repeated for both halves
    sin: Tensor, // (block_size, 1, head_size): -sin for the first half, +sin for the second
    head_size: i64,
}

impl Rope {
    pub fn new(block_size: i64, head_size: i64, device: tch::Device) -> Self {
        let (cos, sin) = Self::tables(0, block_size, head_size, device);
        Self { cos, sin, head_size }
    }

    /// Tables for positions `start..start + count`: (count, 1, head_size) each.
    fn tables(start: i64, count: i64, head_size: i64, device: tch::Device) -> (Tensor, Tensor) {
        let (mut cos, mut sin) = (Vec::new(), Vec::new());
        for pos in start..start + count {
            let (c, s): (Vec<f32>, Vec<f32>) = rope_angles(pos, head_size).unzip();
            cos.extend(c.iter().chain(&c));
            sin.extend(s.iter().map(|s| -s).chain(s.iter().copied()));
        }
        let table = |v: Vec<f32>| Tensor::from_slice(&v).view([count, 1, head_size]).to_device(device);
        (table(cos), table(sin))
    }

    /// Rotates `x` (B, T, H, hs), any number of heads H, as if its tokens sat at
    /// positions `offset..offset + T`: `(x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)`.
    /// Four tensor operations, so that queries and keys can go through in one call.
    pub fn apply(&self, x: &Tensor, offset: i64) -> Tensor {
        let t = x.size()[1];
        let (cos, sin) = if offset + t <= self.cos.size()[0] {
            (self.cos.narrow(0, offset, t), self.sin.narrow(0, offset, t)) // (T, 1, hs)
        } else {
            Self::tables(offset, t, self.head_size, x.device())
        };
        let (cos, sin) = (cos.to_kind(x.kind()), sin.to_kind(x.kind()));
        x * cos + x.roll([self.head_size / 2], [3]) * sin // roll: (x1, x2) -> (x2, x1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_preserves_norms_and_depends_on_relative_position() {
        let rope = Rope::new(16, 8, tch::Device::Cpu);
        tch::manual_seed(0);
        let q = Tensor::randn([1, 1, 1, 8], (Kind::Float, tch::Device::Cpu)); // (B, T, H, hs)
        let k = Tensor::randn([1, 1, 1, 8], (Kind::Float, tch::Device::Cpu));
        let norm = |x: &Tensor| x.norm().double_value(&[]);
        assert!((norm(&rope.apply(&q, 5)) - norm(&q)).abs() < 1e-5);
        // <R(m) q, R(n) k> depends only on m - n.
        let dot = |m, n| (rope.apply(&q, m) * rope.apply(&k, n)).sum(Kind::Float).double_value(&[]);
        assert!((dot(7, 3) - dot(10, 6)).abs() < 1e-4);
        assert!((dot(7, 3) - dot(7, 4)).abs() > 1e-4);
    }

    #[test]
    fn rope_rotates_half_split_pairs_by_position_times_frequency() {
        // Checkpoints depend on this convention: pair (i, i + hs/2) turns by pos * 10000^(-2i/hs).
        // Position 3 comes from the tables, 1001 from past their end (a rolling cache).
        let hs = 8i64;
        let rope = Rope::new(16, hs, tch::Device::Cpu);
        tch::manual_seed(1);
        let x = Tensor::randn([2, 4, 3, hs], (Kind::Float, tch::Device::Cpu)); // (B, T, H, hs)
        for (pos, i) in [3, 1001].into_iter().flat_map(|pos| (0..hs / 2).map(move |i| (pos, i))) {
            let out = rope.apply(&x, pos - 1); // token 1 sits at position `pos`
            let angle = pos as f64 * 10_000f64.powf(-2.0 * i as f64 / hs as f64);
            let (a, b) =
                (x.get(0).get(1).get(2).double_value(&[i]), x.get(0).get(1).get(2).double_value(&[i + hs / 2]));
            let (ra, rb) =
                (out.get(0).get(1).get(2).double_value(&[i]), out.get(0).get(1).get(2).double_value(&[i + hs / 2]));
            assert!((ra - (a * angle.cos() - b * angle.sin())).abs() < 1e-5, "pair {i}");
            assert!((rb - (b * angle.cos() + a * angle.sin())).abs() < 1e-5, "pair {i}");
        }
    }
}
