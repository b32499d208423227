//! Generation: N samples in one batch, with a KV cache, temperature, top-k and top-p.

use crate::gpt::{Gpt, KvCache};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// `[sample]`: how to draw tokens. Every field can be overridden on the command line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleOptions {
    /// Number of samples, drawn together in one batch.
    pub num: usize,
    /// New tokens per sample, at most; a sample also stops at EOS.
    pub max_tokens: usize,
    /// New tokens per sample before EOS may be drawn (so that no sample comes out
    /// empty); 0 lets EOS come at any step.
    pub min_tokens: usize,
    /// Logits are divided by it; 0 picks the most likely token.
    pub temperature: f64,
    /// Keep only the k most likely tokens.
    pub top_k: Option<usize>,
    /// Keep the most likely tokens whose probabilities add up to p (nucleus sampling).
    pub top_p: Option<f64>,
    /// Seed of the sampler: the same seed gives the same samples.
    pub seed: u64,
    /// Decode incrementally with a KV cache; `false` recomputes the whole context at
    /// every step (slow, for comparison).
    pub kv_cache: bool,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            num: 1,
            max_tokens: 500,
            min_tokens: 0,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            seed: 1337,
            kv_cache: true,
        }
    }
}

/// Why sampling could not start.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// Sampling needs at least one token to start from.
    #[error("the prompt is empty: it needs at least one token (BOS)")]
    EmptyPrompt,
    /// An option is out of range.
    #[error("sample.{key} {reason}")]
    BadOption {
        /// The option.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A prompt token is outside the vocabulary.
    #[error("prompt token {0} is outside the model's vocabulary")]
    BadToken(u32),
    /// libtorch failed while drawing a token.
    #[error("sampling failed: {0}")]
    Torch(#[from] tch::TchError),
}

impl SampleOptions {
    /// Checks the ranges of the options.
    pub fn validate(&self) -> Result<(), SampleError> {
        let bad = |key, reason: &str| Err(SampleError::BadOption { key, reason: reason.into() });
        if self.num == 0 {
            return bad("num", "must be at least 1");
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad("temperature", "must be a finite number ≥ 0");
        }
        if self.top_k == Some(0) {
            return bad("top_k", "must be at least 1");
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return bad("top_p", "must be in (0, 1]");
        }
        Ok(())
    }
}

/// Draws samples from a decoder.
pub struct Sampler<'a> {
    model: &'a Gpt,
    device: Device,
}

impl<'a> Sampler<'a> {
    /// A sampler for `model`, whose variables live on `device`.
    pub fn new(model: &'a Gpt, device: Device) -> Self {
        Self { model, device }
    }

    /// Generates `options.num` continuations of `prompt`. Each result is the prompt
    /// followed by the new tokens, up to and including `eos` when one was drawn.
    /// `on_token` is called after every step.
    ///
    /// A prompt longer than `block_size` is kept whole in the results; the model sees
    /// its last `block_size` tokens. With the KV cache the prefix is never recomputed
    /// while it fits in `block_size`. When the context is full, the cache is rebuilt
    /// from the last 3/4 of it at positions from 0, so every step still sees at least
    /// `3/4 · block_size` tokens.
    pub fn generate(
        &self,
        prompt: &[u32],
        eos: Option<u32>,
        options: &SampleOptions,
        on_token: &mut dyn FnMut(),
    ) -> Result<Vec<Vec<u32>>, SampleError> {
        options.validate()?;
        if prompt.is_empty() {
            return Err(SampleError::EmptyPrompt);
        }
        if let Some(&t) = prompt.iter().find(|&&t| i64::from(t) >= self.model.vocab_size()) {
            return Err(SampleError::BadToken(t));
        }
        let n = options.num;
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut rows: Vec<Vec<i64>> = vec![prompt.iter().map(|&t| i64::from(t)).collect(); n];
        let mut done = vec![false; n];
        let mut cache = self.model.new_cache();
        tch::no_grad(|| -> Result<(), SampleError> {
            for step in 0..options.max_tokens {
                let mut logits = if options.kv_cache {
                    self.next_logits_cached(&rows, &mut cache)
                } else {
                    self.next_logits_full(&rows)
                }; // (N, V)
                if let Some(e) = eos.filter(|_| step < options.min_tokens) {
                    let _ = logits.index_fill_(
                        1,
                        &Tensor::from_slice(&[i64::from(e)]).to_device(self.device),
                        f64::NEG_INFINITY,
                    );
                }
                let next = self.draw(&logits, options, &mut rng)?;
                for (i, row) in rows.iter_mut().enumerate() {
                    // Finished rows keep the batch rectangular; their tokens are dropped below.
                    row.push(next[i]);
                    done[i] |= eos.is_some_and(|e| next[i] == i64::from(e));
                }
                on_token();
                if done.iter().all(|&d| d) {
                    break;
                }
            }
            Ok(())
        })?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let mut out: Vec<u32> = row.into_iter().map(|t| t as u32).collect();
                if let Some(at) = eos.and_then(|e| out[prompt.len()..].iter().position(|&t| t == e)) {
                    out.truncate(prompt.len() + at + 1);
                }
                out
            })
            .collect())
    }

    /// Logits after the last token, feeding only what the cache has not seen.
    fn next_logits_cached(&self, rows: &[Vec<i64>], cache: &mut KvCache) -> Tensor {
        let block = self.model.config().block_size;
        let len = rows[0].len() as i64;
        let seen = cache.len();
        // Tokens not yet in the cache, after a rebuild if the window is full.
        let (start, count) = if seen > 0 && seen < block && seen < len {
            (len - 1, 1)
        } else {
            // A cold cache sees the last whole window; a full one keeps its last 3/4.
            let keep = if seen == 0 { len.min(block) } else { block - block / 4 };
            cache.clear();
            (len - keep, keep)
        };
        let idx = self.batch(rows, start, count); // (N, count)
        let h = self.model.hidden(&idx, Some(cache), false); // (N, count, C)
        self.model.logits(&h.select(1, count - 1)) // (N, V)
    }

    /// Logits after the last token, recomputing the last `block_size` tokens.
    fn next_logits_full(&self, rows: &[Vec<i64>]) -> Tensor {
        let len = rows[0].len() as i64;
        let count = len.min(self.model.config().block_size);
        let h = self.model.hidden(&self.batch(rows, len - count, count), None, false);
        self.model.logits(&h.select(1, count - 1))
    }

    /// Tokens `start..start + count` of every row: (N, count) on the device.
    fn batch(&self, rows: &[Vec<i64>], start: i64, count: i64) -> Tensor {
        let (s, e) = (start as usize, (start + count) as usize);
        let flat: Vec<i64> = rows.iter().flat_map(|r| r[s..e].iter().copied()).collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, count]).to_device(self.device)
    }

    /// One token per row from `logits` (N, V), drawn on the CPU with the seeded RNG so
    /// that a seed gives the same tokens on every device.
    fn draw(&self, logits: &Tensor, options: &SampleOptions, rng: &mut StdRng) -> Result<Vec<i64>, SampleError> {
        if options.temperature == 0.0 {
            return Ok(Vec::<i64>::try_from(logits.argmax(-1, false).to_device(Device::Cpu))?);
        }
        let mut logits = logits / options.temperature;
        let vocab = logits.size()[1];
        // k is clamped in usize: a huge k must not wrap negative as an i64.
        if let Some(k) = options.top_k.map(|k| k.min(vocab as usize) as i64) {
            let kth = logits.topk(k, -1, true, true).0.narrow(1, k - 1, 1); // (N, 1)
            logits = logits.masked_fill(&logits.lt_tensor(&kth), f64::NEG_INFINITY);
        }
        if let Some(p) = options.top_p {
            let (sorted, order) = logits.sort(-1, true);
            let probs = sorted.softmax(-1, Kind::Float);
            // Drop a token when the tokens before it already cover p.
            let drop = (probs.cumsum(-1, Kind::Float) - &probs).gt(p);
            let kept = sorted.masked_fill(&drop, f64::NEG_INFINITY);
            logits = logits.full_like(f64::NEG_INFINITY).scatter(-1, &order, &kept);
        }
        let probs = logits.softmax(-1, Kind::Float).to_device(Device::Cpu);
        let probs = Vec::<f32>::try_from(probs.view([-1]))?;
        Ok(probs
            .chunks(vocab as usize)
            .map(|row| {
                let total: f32 = row.iter().sum();
                let mut u = rng.random::<f32>() * total;
                let last = row.iter().rposition(|&p| p > 0.0).unwrap_or(0);
                row.iter()
                    .position(|&p| {
                        u -= p;
                        u < 0.0
                    })
                    .map_or(last, |i| i.min(last)) as i64
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelConfig, Positions};
    use tch::nn;

    fn model(block_size: i64, positions: Positions) -> (nn::VarStore, Gpt) {
        tch::manual_seed(7);
        let vs = nn::VarStore::new(Device::Cpu);
        let config = ModelConfig { n_layer: 2, n_head: 2, n_embd: 16, block_size, positions, ..Default::default() };
        let gpt = Gpt::new(&vs.root(), &config, 13, Kind::Float);
        (vs, gpt)
    }

    fn opts(seed: u64, kv_cache: bool) -> SampleOptions {
        SampleOptions { num: 3, max_tokens: 20, seed, kv_cache, ..Default::default() }
    }

    #[test]
    fn same_seed_same_samples_and_cache_matches_recompute() {
        for positions in [Positions::Learned, Positions::Rope] {
            let (_vs, gpt) = model(32, positions);
            let s = Sampler::new(&gpt, Device::Cpu);
            let a = s.generate(&[1, 2], None, &opts(5, true), &mut || {}).unwrap();
            let b = s.generate(&[1, 2], None, &opts(5, true), &mut || {}).unwrap();
            let c = s.generate(&[1, 2], None, &opts(5, false), &mut || {}).unwrap();
            let d = s.generate(&[1, 2], None, &opts(6, true), &mut || {}).unwrap();
            assert_eq!(a, b);
            assert_eq!(a, c, "the cache changes nothing while the context fits");
            assert_ne!(a, d);
            assert!(a.iter().all(|r| r.len() == 22 && r[..2] == [1, 2]));
            assert_ne!(a[0], a[1], "rows of a batch are drawn independently");
        }
    }

    #[test]
    fn window_slides_past_block_size() {
        let (_vs, gpt) = model(8, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let o = SampleOptions { max_tokens: 30, ..opts(1, true) };
        let out = s.generate(&[1], None, &o, &mut || {}).unwrap();
        assert!(out.iter().all(|r| r.len() == 31 && r.iter().all(|&t| t < 13)));
    }

    #[test]
    fn stops_at_eos_and_truncates_after_it() {
        let (_vs, gpt) = model(16, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let mut steps = 0;
        // With a vocabulary of 13, any token is likely to come up within 200 draws.
        let out =
            s.generate(&[1], Some(4), &SampleOptions { max_tokens: 200, ..opts(3, true) }, &mut || steps += 1).unwrap();
        assert!(steps < 200);
        for row in out {
            assert_eq!(row.iter().filter(|&&t| t == 4).count(), 1);
            assert_eq!(*row.last().unwrap(), 4);
        }
    }

    #[test]
    fn no_eos_before_min_tokens() {
        let (_vs, gpt) = model(16, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let greedy = SampleOptions { temperature: 0.0, ..opts(1, true) };
        // The greedy first token, taken as EOS, ends every sample at once...
        let first = s.generate(&[1], None, &greedy, &mut || {}).unwrap()[0][1];
        let out = s.generate(&[1], Some(first), &greedy, &mut || {}).unwrap();
        assert!(out.iter().all(|r| r == &[1, first]));
        // ...unless min_tokens holds it back.
        let held = SampleOptions { min_tokens: 5, ..greedy };
        for row in s.generate(&[1], Some(first), &held, &mut || {}).unwrap() {
            assert!(row.len() > 6 && !row[1..6].contains(&first), "{row:?}");
        }
    }

    #[test]
    fn greedy_and_top_k_1_agree() {
        let (_vs, gpt) = model(16, Positions::Rope);
        let s = Sampler::new(&gpt, Device::Cpu);
        let greedy = s.generate(&[2], None, &SampleOptions { temperature: 0.0, ..opts(1, true) }, &mut || {}).unwrap();
        let top1 = s.generate(&[2], None, &SampleOptions { top_k: Some(1), ..opts(9, true) }, &mut || {}).unwrap();
        let nucleus =
            s.generate(&[2], None, &SampleOptions { top_p: Some(1e-6), ..opts(4, true) }, &mut || {}).unwrap();
        assert_eq!(greedy, top1);
        assert_eq!(greedy, nucleus);
    }

    #[test]
    fn rejects_bad_prompts_and_options() {
        let (_vs, gpt) = model(4, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let o = opts(1, true);
        assert!(matches!(s.generate(&[], None, &o, &mut || {}), Err(SampleError::EmptyPrompt)));
        assert!(matches!(s.generate(&[13], None, &o, &mut || {}), Err(SampleError::BadToken(13))));
        let bad = SampleOptions { top_p: Some(1.5), ..o };
        assert!(s.generate(&[1], None, &bad, &mut || {}).unwrap_err().to_string().contains("sample.top_p"));
    }

    #[test]
    fn a_prompt_longer_than_the_context_is_kept_whole_and_seen_by_its_last_window() {
        let (_vs, gpt) = model(4, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let greedy = SampleOptions { temperature: 0.0, max_tokens: 1, ..opts(1, true) };
        let long = s.generate(&prompt, None, &greedy, &mut || {}).unwrap();
        assert!(long.iter().all(|r| r.len() == 10 && r[..9] == prompt), "{long:?}");
        // The first new token depends on the last window only, with or without the cache.
        let tail = s.generate(&prompt[5..], None, &greedy, &mut || {}).unwrap();
        let full = s.generate(&prompt, None, &SampleOptions { kv_cache: false, ..greedy }, &mut || {}).unwrap();
        assert_eq!((long[0][9], full[0][9]), (tail[0][4], tail[0][4]));
    }

    #[test]
    fn a_huge_top_k_keeps_every_token() {
        let (_vs, gpt) = model(8, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let huge = SampleOptions { top_k: Some(usize::MAX), ..opts(2, true) };
        let plain = s.generate(&[1], None, &opts(2, true), &mut || {}).unwrap();
        assert_eq!(s.generate(&[1], None, &huge, &mut || {}).unwrap(), plain);
    }
}
