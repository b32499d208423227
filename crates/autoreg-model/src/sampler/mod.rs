//! Generation: N samples in one batch, with a KV cache, temperature, top-k and top-p,
//! on the native CPU decoder or on libtorch.
//!
//! By layer: `options` (what to draw, `[sample]` and its flags), `generate` (the sampler
//! and its loop), `window` (what the model sees at each step), `backend` (the decoders
//! that run a step) and `logits` (one token from a row of logits).

mod backend;
mod generate;
mod logits;
mod options;
mod speculate;
mod window;

pub use generate::Sampler;
pub use options::{Decoder, DraftChoice, NATIVE_THREADS, SampleError, SampleOptions, SampleOverrides};
pub use speculate::Acceptance;

/// Small models and options that the layers' tests share.
#[cfg(test)]
mod testing {
    use super::SampleOptions;
    use crate::{Gpt, ModelConfig, Positions};
    use tch::{Device, Kind, nn};

    pub(super) fn model(block_size: i64, positions: Positions) -> (nn::VarStore, Gpt) {
        tch::manual_seed(7);
        let vs = nn::VarStore::new(Device::Cpu);
        let config = ModelConfig { n_layer: 2, n_head: 2, n_embd: 16, block_size, positions, ..Default::default() };
        let gpt = Gpt::new(&vs.root(), &config, 13, Kind::Float);
        (vs, gpt)
    }

    /// A model of vocabulary 29, 2 layers of `n_embd` and `options` (positions, bias,
    /// ...) whose weights are scaled up from the initialisation (drawn from `seed`) and
    /// whose biases are random, so that its logits and attention are far from uniform.
    pub(super) fn sharp_model(seed: i64, n_embd: i64, block_size: i64, options: ModelConfig) -> (nn::VarStore, Gpt) {
        tch::manual_seed(seed);
        let vs = nn::VarStore::new(Device::Cpu);
        let config = ModelConfig { n_layer: 2, n_head: 2, n_embd, block_size, ..options };
        let gpt = Gpt::new(&vs.root(), &config, 29, Kind::Float);
        tch::no_grad(|| {
            for (name, mut v) in vs.variables() {
                let sharp = if name.ends_with(".bias") { v.randn_like() * 0.5 } else { &v * 4.0 };
                v.copy_(&sharp);
            }
        });
        (vs, gpt)
    }

    pub(super) fn opts(seed: u64, kv_cache: bool) -> SampleOptions {
        SampleOptions { num: 3, max_tokens: 20, seed, kv_cache, ..Default::default() }
    }
}
