//! A GPT-2 style decoder: pre-norm blocks of causal self-attention and a GELU MLP, with
//! the options of `[model]` (rotary positions, QK-norm, ReLU², an untied head, zero-
//! initialised projections, soft-capped logits).

use crate::config::{Mlp, ModelConfig, Positions};
use crate::layers::{LayerNorm, Linear, Rope, rms_norm, softcap};
use tch::{Kind, Tensor, nn};

/// The target id that [`Gpt::loss`] ignores (padding).
pub const IGNORE: i64 = -100;

/// Keys and values of every layer for the tokens seen so far (incremental decoding).
#[derive(Debug)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>, // per layer: (B, nh, S, hs) each
    /// Positions dropped from the front ([`KvCache::drop_oldest`]).
    dropped: i64,
}

impl KvCache {
    /// An empty cache for a model of `n_layer` blocks.
    pub fn new(n_layer: usize) -> Self {
        Self { layers: (0..n_layer).map(|_| None).collect(), dropped: 0 }
    }

    /// Number of cached positions.
    pub fn len(&self) -> i64 {
        self.layers.first().and_then(|l| l.as_ref()).map_or(0, |(k, _)| k.size()[2])
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The position of the next token: the cached length plus the positions dropped.
    pub fn position(&self) -> i64 {
        self.dropped + self.len()
    }

    /// Forgets every position; the next token sits at position 0.
    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(|l| *l = None);
        self.dropped = 0;
    }

    /// Forgets the oldest cached position and keeps the others as they are. Only for
    /// rotary positions, where attention depends on relative positions alone: the next
    /// token keeps its absolute position, past `block_size` if need be.
    pub fn drop_oldest(&mut self) {
        for (k, v) in self.layers.iter_mut().flatten() {
            let n = k.size()[2];
            (*k, *v) = (k.narrow(2, 1, n - 1), v.narrow(2, 1, n - 1));
        }
        self.dropped += 1;
    }

    /// Forgets the `n` newest positions (drafted tokens that were rejected).
    pub fn drop_newest(&mut self, n: i64) {
        for (k, v) in self.layers.iter_mut().flatten() {
            let keep = (k.size()[2] - n).max(0);
            (*k, *v) = (k.narrow(2, 0, keep), v.narrow(2, 0, keep));
        }
    }
}

#[derive(Debug)]
pub(crate) struct Attention {
    pub c_attn: Linear,
    pub c_proj: Linear,
    n_head: i64,
    dropout: f64,
    qk_norm: bool,
}

/// What every layer of one forward pass shares.
#[derive(Clone, Copy)]
struct Pass<'a> {
    rope: Option<&'a Rope>,
    /// Position of the first new token.
    position: i64,
    /// Positions a token attends to, at most: `block_size`.
    window: i64,
    /// Dropout on.
    train: bool,
    /// Kind of the matrix products.
    kind: Kind,
}

impl Attention {
    /// `x` (B, T, C) after `past` cached positions; rotary positions start at `pass.position`.
    fn forward(&self, x: &Tensor, cache: Option<&mut Option<(Tensor, Tensor)>>, pass: &Pass) -> Tensor {
        let Pass { rope, position, window, train, kind } = *pass;
        let (b, t, c) = x.size3().expect("attention input is (B, T, C)");
        let hs = c / self.n_head;
        let qkv = self.c_attn.forward(x, kind); // (B, T, 3C)
        let past = cache.as_ref().and_then(|c| c.as_ref()).map_or(0, |(k, _)| k.size()[2]);
        // Splits, not narrows: the backward pass of a split concatenates the parts'
        // gradients, where that of each narrow would fill a zero tensor of the whole.
        let [qk, v] = <[Tensor; 2]>::try_from(qkv.split_with_sizes([2 * c, c], 2)).expect("two parts");
        let mut qk = qk.view([b, t, 2 * self.n_head, hs]); // (B, T, 2nh, hs)
        if self.qk_norm {
            qk = rms_norm(&qk); // each head's query and key, before rotation
        }
        if let Some(rope) = rope {
            qk = rope.apply(&qk, position); // queries and keys rotated together
        }
        let [q, k] = <[Tensor; 2]>::try_from(qk.split(self.n_head, 2)).expect("two parts");
        let (q, mut k) = (q.transpose(1, 2), k.transpose(1, 2)); // (B, nh, T, hs)
        let mut v = v.view([b, t, self.n_head, hs]).transpose(1, 2); // (B, nh, T, hs)
        if let Some(slot) = cache {
            if let Some((pk, pv)) = slot.take() {
                k = Tensor::cat(&[pk, k], 2); // (B, nh, past + T, hs)
                v = Tensor::cat(&[pv, v], 2);
            }
            *slot = Some((k.shallow_clone(), v.shallow_clone()));
        }
        let p = if train { self.dropout } else { 0.0 };
        let y = if past == 0 {
            Tensor::scaled_dot_product_attention(&q, &k, &v, None::<Tensor>, p, true, None, false)
        } else if t == 1 {
            // One new query sees every cached key.
            Tensor::scaled_dot_product_attention(&q, &k, &v, None::<Tensor>, p, false, None, false)
        } else {
            // Several new queries: query i sees keys 0..=past + i, the last `window`.
            let ones = Tensor::ones([t, past + t], (Kind::Bool, x.device()));
            let mask = ones.tril(past).logical_and(&ones.triu(past + 1 - window));
            Tensor::scaled_dot_product_attention(&q, &k, &v, Some(mask), p, false, None, false)
        }; // (B, nh, T, hs)
        let y = y.transpose(1, 2).contiguous().view([b, t, c]);
        self.c_proj.forward(&y, kind).dropout(p, train)
    }
}

#[derive(Debug)]
pub(crate) struct Block {
    pub ln_1: LayerNorm,
    pub attn: Attention,
    pub ln_2: LayerNorm,
    pub c_fc: Linear,
    pub c_proj: Linear,
    dropout: f64,
    mlp: Mlp,
}

impl Block {
    fn forward(&self, x: &Tensor, cache: Option<&mut Option<(Tensor, Tensor)>>, pass: &Pass) -> Tensor {
        let Pass { train, kind, .. } = *pass;
        let x = x + self.attn.forward(&self.ln_1.forward(x), cache, pass);
        let h = self.c_fc.forward(&self.ln_2.forward(&x), kind); // (B, T, 4C)
        let h = match self.mlp {
            Mlp::Gelu => h.gelu("none"),
            Mlp::GeluTanh => h.gelu("tanh"),
            Mlp::Relu2 => h.relu().square(),
        };
        let p = if train { self.dropout } else { 0.0 };
        &x + self.c_proj.forward(&h, kind).dropout(p, train)
    }
}

/// The decoder. Its variables live in the `nn::VarStore` it was built on.
#[derive(Debug)]
pub struct Gpt {
    config: ModelConfig,
    vocab_size: i64,
    pub(crate) wte: Tensor,             // (V, C), the output head too unless untied
    pub(crate) lm_head: Option<Linear>, // (V, C) with `tie_head = false`
    pub(crate) wpe: Option<Tensor>,     // (block_size, C) with learned positions
    rope: Option<Rope>,
    pub(crate) blocks: Vec<Block>,
    pub(crate) ln_f: LayerNorm,
    kind: Kind,
}

impl Gpt {
    /// Builds the decoder on `vs` with GPT-2 initialisation: N(0, 0.02) weights and
    /// residual projections scaled by 1/√(2·n_layer) (zero with `zero_init`, as is
    /// an untied head). Products run in `kind` (f32, or bf16 for mixed precision).
    /// `config` must be valid.
    pub fn new(vs: &nn::Path, config: &ModelConfig, vocab_size: i64, kind: Kind) -> Self {
        let ModelConfig { n_layer, n_head, n_embd: c, block_size, dropout, bias, positions, qk_norm, mlp, .. } =
            *config;
        let std = 0.02;
        let proj_std = if config.zero_init { 0.0 } else { std / ((2 * n_layer) as f64).sqrt() };
        let init = nn::Init::Randn { mean: 0.0, stdev: std };
        let wte = (vs / "wte").var("weight", &[vocab_size, c], init);
        let wpe = (positions == Positions::Learned).then(|| (vs / "wpe").var("weight", &[block_size, c], init));
        let rope = (positions == Positions::Rope).then(|| Rope::new(block_size, c / n_head, vs.device()));
        let blocks = (0..n_layer)
            .map(|i| {
                let p = vs / "h" / i;
                Block {
                    ln_1: LayerNorm::new(&p / "ln_1", c, bias),
                    attn: Attention {
                        c_attn: Linear::new(&p / "attn" / "c_attn", c, 3 * c, bias, std),
                        c_proj: Linear::new(&p / "attn" / "c_proj", c, c, bias, proj_std),
                        n_head,
                        dropout,
                        qk_norm,
                    },
                    ln_2: LayerNorm::new(&p / "ln_2", c, bias),
                    c_fc: Linear::new(&p / "mlp" / "c_fc", c, 4 * c, bias, std),
                    c_proj: Linear::new(&p / "mlp" / "c_proj", 4 * c, c, bias, proj_std),
                    dropout,
                    mlp,
                }
            })
            .collect();
        let ln_f = LayerNorm::new(vs / "ln_f", c, bias);
        let head_std = if config.zero_init { 0.0 } else { std };
        let lm_head = (!config.tie_head).then(|| Linear::new(vs / "lm_head", c, vocab_size, false, head_std));
        Self { config: config.clone(), vocab_size, wte, lm_head, wpe, rope, blocks, ln_f, kind }
    }

    /// The shape this decoder was built with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Runs the matrix products in `kind` from now on (f32, or bf16 for mixed precision).
    pub fn set_compute_kind(&mut self, kind: Kind) {
        self.kind = kind;
    }

    /// Number of token ids.
    pub fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// A cache sized for this decoder.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.blocks.len())
    }

    /// Final hidden states: `idx` (B, T) -> (B, T, C) in f32. With a cache, the tokens
    /// continue the cached ones at [`KvCache::position`], and their keys and values are
    /// appended to it; each token attends to its last `block_size` positions at most. With
    /// learned positions, the position plus T must not exceed `block_size`.
    pub fn hidden(&self, idx: &Tensor, mut cache: Option<&mut KvCache>, train: bool) -> Tensor {
        let t = idx.size()[1];
        let position = cache.as_ref().map_or(0, |c| c.position());
        let p = if train { self.config.dropout } else { 0.0 };
        let mut x = Tensor::embedding(&self.wte, idx, -1, false, false); // (B, T, C)
        if let Some(wpe) = &self.wpe {
            x += wpe.narrow(0, position, t); // (T, C) broadcast over B
        }
        let mut x = x.dropout(p, train);
        let window = self.config.block_size;
        let pass = Pass { rope: self.rope.as_ref(), position, window, train, kind: self.kind };
        for (i, block) in self.blocks.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            x = block.forward(&x, slot, &pass);
        }
        self.ln_f.forward(&x)
    }

    /// Logits over the vocabulary from hidden states: (..., C) -> (..., V) in f32,
    /// through the output head (the token embedding, unless untied), soft-capped
    /// when `logit_softcap` is set.
    pub fn logits(&self, hidden: &Tensor) -> Tensor {
        let logits = match &self.lm_head {
            Some(head) => head.forward(hidden, self.kind),
            None => hidden.to_kind(self.kind).linear(&self.wte.to_kind(self.kind), None::<Tensor>),
        }
        .to_kind(Kind::Float);
        match self.config.logit_softcap {
            cap if cap > 0.0 => softcap(&logits, cap),
            _ => logits,
        }
    }

    /// Logits for every position: `idx` (B, T) -> (B, T, V).
    pub fn forward_t(&self, idx: &Tensor, train: bool) -> Tensor {
        self.logits(&self.hidden(idx, None, train))
    }

    /// Mean cross-entropy of next-token prediction: `idx` and `targets` are (B, T);
    /// targets of -100 (padding) are ignored.
    pub fn loss(&self, idx: &Tensor, targets: &Tensor, train: bool) -> Tensor {
        let logits = self.forward_t(idx, train); // (B, T, V)
        logits.view([-1, self.vocab_size]).cross_entropy_loss::<Tensor>(
            &targets.view([-1]),
            None,
            tch::Reduction::Mean,
            IGNORE,
            0.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// A decoder of vocabulary 11 built from `config` after seeding libtorch with `seed`.
    fn build(seed: i64, config: ModelConfig) -> (nn::VarStore, Gpt) {
        tch::manual_seed(seed);
        let vs = nn::VarStore::new(Device::Cpu);
        let gpt = Gpt::new(&vs.root(), &config, 11, Kind::Float);
        (vs, gpt)
    }

    /// 2 layers, 2 heads, 16 wide, context 12, with `options`.
    fn small(options: ModelConfig) -> ModelConfig {
        ModelConfig { n_layer: 2, n_head: 2, n_embd: 16, block_size: 12, ..options }
    }

    fn model(positions: Positions) -> (nn::VarStore, Gpt) {
        build(1, small(ModelConfig { positions, ..Default::default() }))
    }

    #[test]
    fn is_causal_a_later_token_never_changes_earlier_logits() {
        for positions in [Positions::Learned, Positions::Rope] {
            let (_vs, gpt) = model(positions);
            let a = Tensor::from_slice(&[1i64, 2, 3, 4, 5]).view([1, 5]);
            let b = Tensor::from_slice(&[1i64, 2, 3, 4, 9]).view([1, 5]);
            let (la, lb) = (gpt.forward_t(&a, false), gpt.forward_t(&b, false));
            assert_eq!(la.size(), [1, 5, 11]);
            assert!(la.narrow(1, 0, 4).allclose(&lb.narrow(1, 0, 4), 1e-6, 1e-6, false));
            assert!(!la.narrow(1, 4, 1).allclose(&lb.narrow(1, 4, 1), 1e-6, 1e-6, false));
        }
    }

    #[test]
    fn cached_decoding_matches_the_full_forward() {
        for positions in [Positions::Learned, Positions::Rope] {
            let (_vs, gpt) = model(positions);
            let idx = Tensor::from_slice(&[3i64, 1, 4, 1, 5, 9, 2, 6, 7, 0, 3, 8]).view([2, 6]);
            let full = gpt.forward_t(&idx, false); // (2, 6, V)
            let mut cache = gpt.new_cache();
            // A prefill of 3 tokens, one of 2 (masked against the cache), then one at a time.
            let mut parts = vec![gpt.logits(&gpt.hidden(&idx.narrow(1, 0, 3), Some(&mut cache), false))];
            parts.push(gpt.logits(&gpt.hidden(&idx.narrow(1, 3, 2), Some(&mut cache), false)));
            parts.push(gpt.logits(&gpt.hidden(&idx.narrow(1, 5, 1), Some(&mut cache), false)));
            assert_eq!(cache.len(), 6);
            let incremental = Tensor::cat(&parts, 1);
            assert!(full.allclose(&incremental, 1e-5, 1e-5, false), "{positions:?}");
        }
    }

    #[test]
    fn a_rolled_rotary_cache_sees_what_a_fresh_window_sees() {
        // Rotary attention depends on relative positions only, so a full cache that drops
        // its oldest position gives the logits of the last block_size tokens run afresh.
        // With one block only: deeper layers' cached keys also carry what their token saw
        // when it was computed, the dropped positions included.
        let (_vs, gpt) = build(
            1,
            ModelConfig { n_layer: 1, ..small(ModelConfig { positions: Positions::Rope, ..Default::default() }) },
        );
        let tokens: Vec<i64> = (0..16).map(|i| (i * 7 + 3) % 11).collect();
        let mut cache = gpt.new_cache();
        let idx = |a: usize, b: usize| Tensor::from_slice(&tokens[a..b]).view([1, (b - a) as i64]);
        let _ = gpt.hidden(&idx(0, 12), Some(&mut cache), false);
        for end in 13..=16 {
            cache.drop_oldest();
            let rolled = gpt.logits(&gpt.hidden(&idx(end - 1, end), Some(&mut cache), false)).select(1, 0);
            let fresh = gpt.forward_t(&idx(end - 12, end), false).select(1, 11);
            assert_eq!((cache.len(), cache.position()), (12, end as i64));
            assert!(rolled.allclose(&fresh, 1e-5, 1e-5, false), "after {end} tokens");
        }
    }

    #[test]
    fn variables_follow_gpt2_names_and_initialisation() {
        let (vs, _gpt) = model(Positions::Learned);
        let vars = vs.variables();
        assert!(vars.contains_key("wte.weight") && vars.contains_key("wpe.weight"));
        assert!(vars.contains_key("h.1.attn.c_proj.weight") && vars.contains_key("ln_f.weight"));
        assert!(!vars.contains_key("h.0.attn.c_attn.bias"), "bias = false");
        let std = |name: &str| vars[name].std(true).double_value(&[]);
        assert!((std("h.0.mlp.c_fc.weight") - 0.02).abs() < 0.003);
        assert!((std("h.0.mlp.c_proj.weight") - 0.01).abs() < 0.002); // 0.02 / sqrt(2 * 2)
    }

    #[test]
    fn the_model_options_change_what_they_say() {
        let (vs, gpt) = build(
            3,
            small(ModelConfig {
                positions: Positions::Rope,
                qk_norm: true,
                mlp: Mlp::Relu2,
                tie_head: false,
                zero_init: true,
                logit_softcap: 0.1,
                ..Default::default()
            }),
        );
        let vars = vs.variables();
        // Zero-initialised projections and head: every block starts as the identity.
        for name in ["h.0.attn.c_proj.weight", "h.1.mlp.c_proj.weight", "lm_head.weight"] {
            assert_eq!(vars[name].abs().max().double_value(&[]), 0.0, "{name}");
        }
        assert!(vars["h.0.mlp.c_fc.weight"].abs().max().double_value(&[]) > 0.0);
        let idx = Tensor::from_slice(&[1i64, 2, 3, 4]).view([1, 4]);
        tch::no_grad(|| {
            for (name, mut v) in vs.variables() {
                v.copy_(&(v.randn_like() * if name.ends_with("weight") && !name.contains("ln") { 3.0 } else { 1.0 }));
            }
        });
        // Soft-capped logits stay inside (-cap, cap), however large the weights.
        let logits = gpt.forward_t(&idx, false);
        let largest = logits.abs().max().double_value(&[]);
        assert!(largest <= 0.1 + 1e-6 && largest > 0.09, "{largest}: the cap bounds the logits, and is reached");
        // The untied head is the head: the embedding no longer sets the logits.
        let before = gpt.forward_t(&idx, false);
        tch::no_grad(|| drop(vars["lm_head.weight"].shallow_clone().g_mul_scalar_(0.0)));
        assert_eq!(gpt.forward_t(&idx, false).abs().max().double_value(&[]), 0.0);
        assert!(before.abs().max().double_value(&[]) > 0.0);
    }

    #[test]
    fn qk_norm_makes_attention_blind_to_the_scale_of_queries_and_keys() {
        // Scaling c_attn's query and key rows scales q and k; after their RMS norm the
        // attention is the same. Without QK-norm it is not.
        for qk_norm in [true, false] {
            let (_vs, gpt) = build(
                4,
                ModelConfig { n_layer: 1, block_size: 8, ..small(ModelConfig { qk_norm, ..Default::default() }) },
            );
            let idx = Tensor::from_slice(&[1i64, 5, 3, 7]).view([1, 4]);
            let before = gpt.forward_t(&idx, false);
            tch::no_grad(|| drop(gpt.blocks[0].attn.c_attn.ws.narrow(0, 0, 32).g_mul_scalar_(5.0)));
            let after = gpt.forward_t(&idx, false);
            assert_eq!(after.allclose(&before, 1e-4, 1e-4, false), qk_norm, "qk_norm = {qk_norm}");
        }
    }

    #[test]
    fn bf16_products_stay_close_to_f32() {
        let (_vs, mut gpt) = model(Positions::Rope);
        let idx = Tensor::from_slice(&[1i64, 2, 3, 4]).view([1, 4]);
        let f32_logits = gpt.forward_t(&idx, false);
        gpt.set_compute_kind(Kind::BFloat16);
        let bf16_logits = gpt.forward_t(&idx, false);
        assert_eq!(bf16_logits.kind(), Kind::Float);
        assert!(bf16_logits.allclose(&f32_logits, 0.05, 0.05, false));
        assert!(!bf16_logits.equal(&f32_logits), "the products really ran in bf16");
    }
}
