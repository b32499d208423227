//! Generation: N samples in one batch, with a KV cache, temperature, top-k and top-p,
//! on the native CPU decoder or on libtorch.

use crate::config::Positions;
use crate::gpt::{Gpt, KvCache};
use crate::native::{NativeCache, NativeModel};
use autoreg_tokens::{FrameLayout, Grammar};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::cell::OnceCell;
use std::fmt;
use std::str::FromStr;
use tch::{Device, Tensor};

/// Which decoder runs the sampling steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decoder {
    /// The native decoder for a model on the CPU, libtorch for one on a GPU.
    #[default]
    Auto,
    /// The native CPU decoder: the weights are copied to the CPU once.
    Native,
    /// libtorch on the model's device: the reference, and the GPU path.
    Libtorch,
}

impl FromStr for Decoder {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "native" => Ok(Self::Native),
            "libtorch" => Ok(Self::Libtorch),
            _ => Err(format!("unknown decoder {s:?}: expected \"auto\", \"native\" or \"libtorch\"")),
        }
    }
}

impl fmt::Display for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Native => "native",
            Self::Libtorch => "libtorch",
        })
    }
}

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
    /// `"auto"`, `"native"` or `"libtorch"`.
    pub decoder: Decoder,
    /// CPU threads; 0 picks them by path (see [`SampleOptions::threads_for`]).
    pub threads: usize,
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
            decoder: Decoder::Auto,
            threads: 0,
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

/// Most threads `sample.threads` may ask for.
const MAX_THREADS: usize = 1024;

impl SampleOptions {
    /// Most samples `num` may ask for: they are drawn together, in one batch.
    pub const MAX_NUM: usize = 1 << 16;

    /// Most new tokens `max_tokens` may ask for per sample (2^24: 35 minutes of 8 kHz
    /// sound, 16 MB of text; hours of sampling even for a small model).
    pub const MAX_TOKENS: usize = 1 << 24;

    /// Checks the ranges of the options.
    pub fn validate(&self) -> Result<(), SampleError> {
        let bad = |key, reason: &str| Err(SampleError::BadOption { key, reason: reason.into() });
        if self.num == 0 {
            return bad("num", "must be at least 1");
        }
        if self.num > Self::MAX_NUM {
            let reason = format!("must be at most {}: the samples are drawn together, in one batch", Self::MAX_NUM);
            return bad("num", &reason);
        }
        if self.max_tokens > Self::MAX_TOKENS {
            return bad("max_tokens", &format!("must be at most {} new tokens per sample", Self::MAX_TOKENS));
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
        if self.threads > MAX_THREADS {
            return bad("threads", &format!("must be at most {MAX_THREADS} (0 picks them by path)"));
        }
        Ok(())
    }

    /// The decoder that runs for a model on `device`.
    pub fn decoder_for(&self, device: Device) -> Decoder {
        match self.decoder {
            Decoder::Auto if device == Device::Cpu => Decoder::Native,
            Decoder::Auto => Decoder::Libtorch,
            chosen => chosen,
        }
    }

    /// CPU threads for `decoder`: `threads` when set. Otherwise, for the native decoder,
    /// every core up to [`NATIVE_THREADS`]: on the 2-core machine 2 threads decode 1.4x to
    /// 1.7x faster than 1 at batch 1 (`sample_speed` prints both); past a few threads a
    /// small model's step has too little work to share out (a product splits into
    /// panels of 64 outputs). For libtorch, libtorch's own default (0: leave it).
    pub fn threads_for(&self, decoder: Decoder) -> usize {
        match (self.threads, decoder) {
            (0, Decoder::Libtorch) => 0,
            (0, _) => std::thread::available_parallelism().map_or(1, |n| n.get().min(NATIVE_THREADS)),
            (n, _) => n,
        }
    }
}

/// Most threads the native decoder takes by default.
pub const NATIVE_THREADS: usize = 8;

/// Draws samples from a decoder.
pub struct Sampler<'a> {
    model: &'a Gpt,
    device: Device,
    /// The native decoder's copy of the weights, made on first use.
    native: OnceCell<NativeModel>,
    /// What may be drawn after a row, beyond frames.
    grammar: Option<&'a dyn Grammar>,
}

impl<'a> Sampler<'a> {
    /// A sampler for `model`, whose variables live on `device`.
    pub fn new(model: &'a Gpt, device: Device) -> Self {
        Self { model, device, native: OnceCell::new(), grammar: None }
    }

    /// This sampler, drawing only what `grammar` leaves after each row (a mixture's
    /// segments).
    pub fn with_grammar(self, grammar: &'a dyn Grammar) -> Self {
        Self { grammar: Some(grammar), ..self }
    }

    /// Generates `options.num` continuations of `prompt`. Each result is the prompt
    /// followed by the new tokens, up to and including `eos` when one was drawn.
    /// `on_token` is called after every step.
    ///
    /// A prompt longer than `block_size` is kept whole in the results; the model sees
    /// its last `block_size` tokens. With the KV cache the prefix is never recomputed
    /// while it fits in `block_size`. When the context is full, a rotary model drops the
    /// oldest cached position and keeps the rest (its attention depends on relative
    /// positions only), so a step costs the same at any length; a model with learned
    /// positions rebuilds its cache from the last 3/4 of the context at positions from
    /// 0, so every step still sees at least `3/4 · block_size` tokens.
    ///
    /// With `frames`, samples are made of frames: the frame token comes at every frame
    /// start (a frame start is where the prompt's first frame token is, or the end of a
    /// prompt without one, then every `frames.len` tokens) and nowhere else, and `eos`
    /// only at a frame start. The context then slides by whole frames: it holds the
    /// current frame and the `frames.context` before it, as training windows do. When a
    /// frame leaves it, the cache is rebuilt from the oldest frame kept in one batched
    /// pass, so every position sees what it saw in training, rotary or learned. (A
    /// rotary cache that kept its entries would be cheaper, but its deeper layers'
    /// entries carry the frames dropped, which no training window had: on Moving MNIST
    /// its samples drift, their ink leaving the data's range.) A frame costs the same at
    /// any length.
    pub fn generate(
        &self,
        prompt: &[u32],
        eos: Option<u32>,
        frames: Option<FrameLayout>,
        options: &SampleOptions,
        on_token: &mut (dyn FnMut() + Send),
    ) -> Result<Vec<Vec<u32>>, SampleError> {
        options.validate()?;
        if prompt.is_empty() {
            return Err(SampleError::EmptyPrompt);
        }
        if let Some(&t) = prompt.iter().find(|&&t| i64::from(t) >= self.model.vocab_size()) {
            return Err(SampleError::BadToken(t));
        }
        let decoder = options.decoder_for(self.device);
        let threads = options.threads_for(decoder);
        if let Some(available) = crate::config::available_memory() {
            self.check_memory(prompt.len(), options, decoder, available)?;
        }
        let config = self.model.config();
        let frames = frames.map(|layout| Frames { layout, first: layout.first_start(prompt) });
        if let Some(f) = &frames
            && (i64::from(f.layout.token) >= self.model.vocab_size() || f.layout.len == 0)
        {
            return Err(SampleError::BadOption {
                key: "frames",
                reason: format!("{:?} do not fit the model", f.layout),
            });
        }
        let window = Window {
            block: config.block_size as usize,
            rolling: config.positions == Positions::Rope,
            kv_cache: options.kv_cache,
            frames,
            grammar: self.grammar,
        };
        let vocab = self.model.vocab_size() as usize;
        let mut run = |steps: &mut dyn Steps| draw_all(steps, &window, vocab, prompt, eos, options, on_token);
        let rows = if decoder == Decoder::Libtorch {
            let mut steps = TorchSteps::new(self.model, self.device, options.num, threads);
            tch::no_grad(|| run(&mut steps))?
        } else {
            let model = match self.native.get() {
                Some(m) => m,
                None => {
                    let m = tch::no_grad(|| NativeModel::new(self.model))?;
                    self.native.get_or_init(|| m)
                }
            };
            let mut steps = NativeSteps { cache: model.new_cache(options.num), model, threads };
            if threads > 1 {
                // The whole loop runs inside the pool, so that splitting a step's work
                // between its threads costs no wake-up of the calling thread.
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| {
                    SampleError::BadOption { key: "threads", reason: format!("cannot start them: {e}") }
                })?;
                pool.install(|| run(&mut steps))?
            } else {
                run(&mut steps)?
            }
        };
        Ok(rows
            .into_iter()
            .map(|mut out| {
                if let Some(at) = eos.and_then(|e| out[prompt.len()..].iter().position(|&t| t == e)) {
                    out.truncate(prompt.len() + at + 1);
                }
                out
            })
            .collect())
    }

    /// Rough bytes of memory, host and model's device, that sampling takes per row for a
    /// prompt of `prompt` tokens: the row itself at its longest, its logits, its KV cache
    /// and the activations of a whole window fed at once.
    fn bytes_per_row(&self, prompt: usize, options: &SampleOptions) -> (f64, f64) {
        let config = self.model.config();
        let (l, c, h, t) =
            (config.n_layer as f64, config.n_embd as f64, config.n_head as f64, config.block_size as f64);
        let vocab = self.model.vocab_size() as f64;
        let host = 4.0 * (prompt as f64 + options.max_tokens as f64) + 12.0 * vocab;
        let device = 8.0 * l * c * t + 4.0 * t * (12.0 * c + h * t) + 4.0 * vocab;
        (host, device)
    }

    /// Checks that `options.num` rows of a prompt of `prompt` tokens fit in `available`
    /// bytes of memory (on a GPU, the rows that stay on the host), before allocating any.
    fn check_memory(
        &self,
        prompt: usize,
        options: &SampleOptions,
        decoder: Decoder,
        available: u64,
    ) -> Result<(), SampleError> {
        let (host, device) = self.bytes_per_row(prompt, options);
        let on_host = self.device == Device::Cpu || decoder == Decoder::Native;
        let per_row = if on_host { host + device } else { host };
        // The native decoder copies the weights once.
        let vocab = self.model.vocab_size() as usize;
        let fixed = if decoder == Decoder::Native { 4.0 * self.model.config().num_params(vocab) } else { 0.0 };
        let need = fixed + per_row * options.num as f64;
        if need <= available as f64 {
            return Ok(());
        }
        let fit = ((available as f64 - fixed) / per_row).floor().max(0.0);
        let (key, reason) = if fit < 1.0 {
            let reason = format!(
                "is too large: a sample of {prompt} + {} tokens needs about {} of memory but {} is available",
                options.max_tokens,
                crate::config::human_bytes(fixed + per_row),
                crate::config::human_bytes(available as f64)
            );
            ("max_tokens", reason)
        } else {
            let reason = format!(
                "is too large: {} samples of {prompt} + {} tokens need about {} of memory but {} is available; \
                 at most {fit} fit",
                options.num,
                options.max_tokens,
                crate::config::human_bytes(need),
                crate::config::human_bytes(available as f64)
            );
            ("num", reason)
        };
        Err(SampleError::BadOption { key, reason })
    }
}

/// The sampling loop: `options.num` rows continuing `prompt`, drawn step by step until
/// `options.max_tokens` or until every row has drawn `eos`.
fn draw_all(
    steps: &mut dyn Steps,
    window: &Window,
    vocab: usize,
    prompt: &[u32],
    eos: Option<u32>,
    options: &SampleOptions,
    on_token: &mut (dyn FnMut() + Send),
) -> Result<Vec<Vec<u32>>, SampleError> {
    let n = options.num;
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut rows: Vec<Vec<u32>> = vec![prompt.to_vec(); n];
    let mut done = vec![false; n];
    for step in 0..options.max_tokens {
        let (start, count) = window.next_feed(steps, rows[0].len());
        let tokens: Vec<u32> = rows.iter().flat_map(|r| r[start..start + count].iter().copied()).collect();
        let mut logits = steps.feed(&tokens, count)?; // (N, V)
        let at_frame_start = window.frames.as_ref().map(|f| f.starts_at(rows[0].len()));
        for (i, row) in logits.chunks_exact_mut(vocab).enumerate() {
            if let (Some(f), Some(start)) = (&window.frames, at_frame_start) {
                f.constrain(row, start, eos);
            }
            if let Some(grammar) = window.grammar {
                grammar.mask(&rows[i], row);
            }
            if let Some(e) = eos.filter(|&e| step < options.min_tokens && (e as usize) < vocab) {
                row[e as usize] = f32::NEG_INFINITY;
            }
            let next = draw(row, options, &mut rng);
            // Finished rows keep the batch rectangular; their tokens are dropped by the caller.
            rows[i].push(next);
            done[i] |= eos == Some(next);
        }
        on_token();
        if done.iter().all(|&d| d) {
            break;
        }
    }
    Ok(rows)
}

/// A decoder run one step at a time, with its own cache.
trait Steps {
    /// Number of cached positions.
    fn cached(&self) -> usize;
    /// Forgets every position.
    fn clear(&mut self);
    /// Forgets the oldest position (rotary models).
    fn drop_oldest(&mut self);
    /// Feeds `tokens` (N, t) after the cached positions; returns the logits after each
    /// row's last token, (N, V) row-major.
    fn feed(&mut self, tokens: &[u32], t: usize) -> Result<Vec<f32>, SampleError>;
}

/// The frames of the rows being sampled.
struct Frames {
    layout: FrameLayout,
    /// Where the first frame starts.
    first: usize,
}

impl Frames {
    /// Whether a frame starts at position `at`.
    fn starts_at(&self, at: usize) -> bool {
        at >= self.first && (at - self.first).is_multiple_of(self.layout.len)
    }

    /// The earliest frame start `s` with `len - s <= limit`, before `len`: where a
    /// context of at most `limit` tokens that starts at a frame begins.
    fn start_within(&self, len: usize, limit: usize) -> Option<usize> {
        let need = len.saturating_sub(limit).max(self.first);
        let start = self.first + (need - self.first).div_ceil(self.layout.len) * self.layout.len;
        (start < len).then_some(start)
    }

    /// Masks `logits` (V,) for a token at a frame start (`start`: only the frame token
    /// or `eos`) or inside a frame (neither).
    fn constrain(&self, logits: &mut [f32], start: bool, eos: Option<u32>) {
        let special = |t: usize| t == self.layout.token as usize || eos.is_some_and(|e| e as usize == t);
        logits.iter_mut().enumerate().filter(|&(t, _)| special(t) != start).for_each(|(_, v)| *v = f32::NEG_INFINITY);
    }
}

/// What the model sees of the context at each step, and what it may draw.
struct Window<'g> {
    block: usize,
    /// Rotary positions: a full cache drops its oldest position.
    rolling: bool,
    /// `false` recomputes the last window at every step.
    kv_cache: bool,
    /// Frames slide the context by whole frames, rebuilding the cache.
    frames: Option<Frames>,
    /// Masks what may not follow a row.
    grammar: Option<&'g dyn Grammar>,
}

impl Window<'_> {
    /// Which tokens of rows of `len` to feed next, `(start, count)`, after clearing or
    /// shortening the cache as needed.
    fn next_feed(&self, steps: &mut dyn Steps, len: usize) -> (usize, usize) {
        let seen = steps.cached();
        let limit = self.frames.as_ref().map_or(self.block, |f| f.layout.span().min(self.block));
        if self.kv_cache && seen > 0 && seen < limit && seen < len {
            return (len - 1, 1);
        }
        if let Some(start) = self.frames.as_ref().filter(|_| len > limit).and_then(|f| f.start_within(len, limit)) {
            steps.clear();
            return (start, len - start);
        }
        if self.kv_cache && seen > 0 && self.rolling {
            steps.drop_oldest();
            return (len - 1, 1);
        }
        // A cold cache sees the last whole window; a full one keeps its last 3/4.
        let keep = if seen == 0 || !self.kv_cache { len.min(self.block) } else { self.block - self.block / 4 };
        steps.clear();
        (len - keep, keep)
    }
}

/// The libtorch path, on the model's device.
struct TorchSteps<'a> {
    model: &'a Gpt,
    device: Device,
    cache: KvCache,
    rows: usize,
    /// libtorch's thread count before this run, restored when it ends.
    restore_threads: Option<i32>,
}

impl<'a> TorchSteps<'a> {
    /// Steps of `model` for `rows`, on `threads` CPU threads (0: as they are).
    fn new(model: &'a Gpt, device: Device, rows: usize, threads: usize) -> Self {
        let restore_threads = (threads > 0).then(|| {
            let before = tch::get_num_threads();
            tch::set_num_threads(threads as i32);
            before
        });
        Self { model, device, cache: model.new_cache(), rows, restore_threads }
    }
}

impl Drop for TorchSteps<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.restore_threads {
            tch::set_num_threads(n);
        }
    }
}

impl Steps for TorchSteps<'_> {
    fn cached(&self) -> usize {
        self.cache.len() as usize
    }

    fn clear(&mut self) {
        self.cache.clear();
    }

    fn drop_oldest(&mut self) {
        self.cache.drop_oldest();
    }

    fn feed(&mut self, tokens: &[u32], t: usize) -> Result<Vec<f32>, SampleError> {
        let ids: Vec<i64> = tokens.iter().map(|&t| i64::from(t)).collect();
        let idx = Tensor::from_slice(&ids).view([self.rows as i64, t as i64]).to_device(self.device); // (N, t)
        let h = self.model.hidden(&idx, Some(&mut self.cache), false); // (N, t, C)
        let logits = self.model.logits(&h.select(1, t as i64 - 1)); // (N, V)
        Ok(Vec::<f32>::try_from(logits.to_device(Device::Cpu).view([-1]))?)
    }
}

/// The native CPU path.
struct NativeSteps<'a> {
    model: &'a NativeModel,
    cache: NativeCache,
    threads: usize,
}

impl Steps for NativeSteps<'_> {
    fn cached(&self) -> usize {
        self.cache.len()
    }

    fn clear(&mut self) {
        self.cache.clear();
    }

    fn drop_oldest(&mut self) {
        self.cache.drop_oldest();
    }

    fn feed(&mut self, tokens: &[u32], t: usize) -> Result<Vec<f32>, SampleError> {
        Ok(self.model.forward(tokens, t, &mut self.cache, self.threads))
    }
}

/// One token from a row of logits (V,), with the seeded RNG on the CPU, so that a seed
/// gives the same tokens on every device and decoder. Overwrites `logits`.
fn draw(logits: &mut [f32], options: &SampleOptions, rng: &mut StdRng) -> u32 {
    if options.temperature == 0.0 {
        return argmax(logits);
    }
    let t = options.temperature as f32;
    logits.iter_mut().for_each(|v| *v /= t);
    // k is clamped in usize, so that a huge k keeps every token.
    if let Some(k) = options.top_k.filter(|&k| k < logits.len()) {
        let mut sorted = logits.to_vec();
        sorted.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
        let kth = sorted[k - 1];
        logits.iter_mut().filter(|v| **v < kth).for_each(|v| *v = f32::NEG_INFINITY);
    }
    if let Some(p) = options.top_p {
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        let probs = softmax(logits);
        // Drop a token when the tokens before it already cover p.
        let mut covered = 0.0f64;
        for &i in &order {
            if covered > p {
                logits[i] = f32::NEG_INFINITY;
            }
            covered += f64::from(probs[i]);
        }
    }
    let probs = softmax(logits);
    let total: f32 = probs.iter().sum();
    let mut u = rng.random::<f32>() * total;
    let last = probs.iter().rposition(|&p| p > 0.0).unwrap_or(0);
    probs
        .iter()
        .position(|&p| {
            u -= p;
            u < 0.0
        })
        .map_or(last, |i| i.min(last)) as u32
}

/// The first index of the largest value.
fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Probabilities from logits (V,).
fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let exps: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mlp, ModelConfig, Positions};
    use tch::{Kind, nn};

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
            let a = s.generate(&[1, 2], None, None, &opts(5, true), &mut || {}).unwrap();
            let b = s.generate(&[1, 2], None, None, &opts(5, true), &mut || {}).unwrap();
            let c = s.generate(&[1, 2], None, None, &opts(5, false), &mut || {}).unwrap();
            let d = s.generate(&[1, 2], None, None, &opts(6, true), &mut || {}).unwrap();
            assert_eq!(a, b);
            assert_eq!(a, c, "the cache changes nothing while the context fits");
            assert_ne!(a, d);
            assert!(a.iter().all(|r| r.len() == 22 && r[..2] == [1, 2]));
            assert_ne!(a[0], a[1], "rows of a batch are drawn independently");
        }
    }

    /// After an odd token only even ones, after an even token only odd ones.
    struct Alternate;

    impl Grammar for Alternate {
        fn mask(&self, row: &[u32], logits: &mut [f32]) {
            let odd = row.last().is_some_and(|t| t % 2 == 1);
            logits
                .iter_mut()
                .enumerate()
                .filter(|(t, _)| (t % 2 == 1) == odd)
                .for_each(|(_, v)| *v = f32::NEG_INFINITY);
        }
    }

    #[test]
    fn a_grammar_decides_what_may_follow_each_row_on_both_decoders() {
        let (_vs, gpt) = model(8, Positions::Rope);
        let s = Sampler::new(&gpt, Device::Cpu).with_grammar(&Alternate);
        for decoder in [Decoder::Libtorch, Decoder::Native] {
            let out = s.generate(&[1], None, None, &SampleOptions { decoder, ..opts(2, true) }, &mut || {}).unwrap();
            for row in out {
                assert!(row.windows(2).all(|w| w[0] % 2 != w[1] % 2), "{row:?}");
            }
        }
    }

    #[test]
    fn window_slides_past_block_size() {
        let (_vs, gpt) = model(8, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let o = SampleOptions { max_tokens: 30, ..opts(1, true) };
        let out = s.generate(&[1], None, None, &o, &mut || {}).unwrap();
        assert!(out.iter().all(|r| r.len() == 31 && r.iter().all(|&t| t < 13)));
    }

    #[test]
    fn stops_at_eos_and_truncates_after_it() {
        let (_vs, gpt) = model(16, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let mut steps = 0;
        // With a vocabulary of 13, any token is likely to come up within 200 draws.
        let out = s
            .generate(&[1], Some(4), None, &SampleOptions { max_tokens: 200, ..opts(3, true) }, &mut || steps += 1)
            .unwrap();
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
        let first = s.generate(&[1], None, None, &greedy, &mut || {}).unwrap()[0][1];
        let out = s.generate(&[1], Some(first), None, &greedy, &mut || {}).unwrap();
        assert!(out.iter().all(|r| r == &[1, first]));
        // ...unless min_tokens holds it back.
        let held = SampleOptions { min_tokens: 5, ..greedy };
        for row in s.generate(&[1], Some(first), None, &held, &mut || {}).unwrap() {
            assert!(row.len() > 6 && !row[1..6].contains(&first), "{row:?}");
        }
    }

    #[test]
    fn greedy_and_top_k_1_agree() {
        let (_vs, gpt) = model(16, Positions::Rope);
        let s = Sampler::new(&gpt, Device::Cpu);
        let greedy =
            s.generate(&[2], None, None, &SampleOptions { temperature: 0.0, ..opts(1, true) }, &mut || {}).unwrap();
        let top1 =
            s.generate(&[2], None, None, &SampleOptions { top_k: Some(1), ..opts(9, true) }, &mut || {}).unwrap();
        let nucleus =
            s.generate(&[2], None, None, &SampleOptions { top_p: Some(1e-6), ..opts(4, true) }, &mut || {}).unwrap();
        assert_eq!(greedy, top1);
        assert_eq!(greedy, nucleus);
    }

    #[test]
    fn rejects_bad_prompts_and_options() {
        let (_vs, gpt) = model(4, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let o = opts(1, true);
        assert!(matches!(s.generate(&[], None, None, &o, &mut || {}), Err(SampleError::EmptyPrompt)));
        assert!(matches!(s.generate(&[13], None, None, &o, &mut || {}), Err(SampleError::BadToken(13))));
        let bad = SampleOptions { top_p: Some(1.5), ..o };
        assert!(s.generate(&[1], None, None, &bad, &mut || {}).unwrap_err().to_string().contains("sample.top_p"));
    }

    #[test]
    fn a_prompt_longer_than_the_context_is_kept_whole_and_seen_by_its_last_window() {
        let (_vs, gpt) = model(4, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let greedy = SampleOptions { temperature: 0.0, max_tokens: 1, ..opts(1, true) };
        let long = s.generate(&prompt, None, None, &greedy, &mut || {}).unwrap();
        assert!(long.iter().all(|r| r.len() == 10 && r[..9] == prompt), "{long:?}");
        // The first new token depends on the last window only, with or without the cache.
        let tail = s.generate(&prompt[5..], None, None, &greedy, &mut || {}).unwrap();
        let full = s.generate(&prompt, None, None, &SampleOptions { kv_cache: false, ..greedy }, &mut || {}).unwrap();
        assert_eq!((long[0][9], full[0][9]), (tail[0][4], tail[0][4]));
    }

    /// A model of vocabulary 29 with `options` (positions, bias, ...) whose weights are
    /// scaled up from the initialisation and whose biases are random, so that its logits
    /// and attention are far from uniform.
    fn sharp_model(block_size: i64, options: ModelConfig) -> (nn::VarStore, Gpt) {
        tch::manual_seed(11);
        let vs = nn::VarStore::new(Device::Cpu);
        let config = ModelConfig { n_layer: 2, n_head: 2, n_embd: 32, block_size, ..options };
        let gpt = Gpt::new(&vs.root(), &config, 29, Kind::Float);
        tch::no_grad(|| {
            for (name, mut v) in vs.variables() {
                let sharp = if name.ends_with(".bias") { v.randn_like() * 0.5 } else { &v * 4.0 };
                v.copy_(&sharp);
            }
        });
        (vs, gpt)
    }

    #[test]
    fn native_and_libtorch_logits_agree_at_every_step() {
        // A class-conditional prompt (BOS, a class token, a few tokens), then 200 steps:
        // block 24 is passed many times, so learned positions rebuild their cache and
        // rotary ones roll it. The next tokens come from libtorch's logits for both.
        // The last model has every option of `[model]` that changes the forward pass.
        let prompt = [1u32, 27, 5, 9, 3];
        let shape = |positions, bias| ModelConfig { positions, bias, ..Default::default() };
        let every_option = ModelConfig {
            qk_norm: true,
            mlp: Mlp::Relu2,
            tie_head: false,
            logit_softcap: 15.0,
            ..shape(Positions::Rope, true)
        };
        let shapes = [
            shape(Positions::Learned, false),
            shape(Positions::Rope, true),
            shape(Positions::Learned, true),
            every_option,
        ];
        for options in shapes {
            let positions = options.positions;
            for rows in [1, 4] {
                let (_vs, gpt) = sharp_model(24, options.clone());
                let native = NativeModel::new(&gpt).unwrap();
                let window = Window {
                    block: 24,
                    rolling: positions == Positions::Rope,
                    kv_cache: true,
                    frames: None,
                    grammar: None,
                };
                let mut torch = TorchSteps::new(&gpt, Device::Cpu, rows, 0);
                let mut fast = NativeSteps { model: &native, cache: native.new_cache(rows), threads: 2 };
                let mut seqs = vec![prompt.to_vec(); rows];
                let mut rng = StdRng::seed_from_u64(5);
                let (mut worst, mut spread) = (0.0f32, 0.0f32);
                let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
                tch::no_grad(|| {
                    for _ in 0..200 {
                        let len = seqs[0].len();
                        let feed = window.next_feed(&mut torch, len);
                        assert_eq!(window.next_feed(&mut fast, len), feed);
                        let (start, count) = feed;
                        let tokens: Vec<u32> = seqs.iter().flat_map(|r| r[start..start + count].to_vec()).collect();
                        let a = torch.feed(&tokens, count).unwrap();
                        let b = pool.install(|| fast.feed(&tokens, count)).unwrap();
                        assert_eq!(a.len(), rows * 29);
                        worst = a.iter().zip(&b).fold(worst, |w, (x, y)| w.max((x - y).abs()));
                        for (seq, row) in seqs.iter_mut().zip(a.chunks(29)) {
                            let (lo, hi) = row.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
                            spread = spread.max(hi - lo);
                            seq.push(draw(&mut row.to_vec(), &SampleOptions::default(), &mut rng));
                        }
                    }
                });
                let what = format!("{options:?}, {rows} rows");
                assert!(worst <= 1e-4, "{what}: logits differ by {worst}");
                assert!(spread > 5.0, "{what}: the logits are too flat ({spread}) for the bound to mean much");
            }
        }
    }

    #[test]
    fn same_seed_same_tokens_on_both_decoders_and_any_threads() {
        // The two decoders round differently (logits agree to about 1e-5 here), so over
        // thousands of draws one can fall on the other side of a near-tie and the samples
        // part (`audio_speed` shows where). Over these 200 steps of 4 rows they do not;
        // the logits bound is the test above. Thread counts change no rounding at all.
        for positions in [Positions::Learned, Positions::Rope] {
            let (_vs, gpt) = sharp_model(16, ModelConfig { positions, ..Default::default() });
            let s = Sampler::new(&gpt, Device::Cpu);
            for extra in [
                SampleOptions::default(),
                SampleOptions { top_k: Some(5), temperature: 0.8, ..Default::default() },
                SampleOptions { top_p: Some(0.9), ..Default::default() },
            ] {
                let o = SampleOptions { num: 4, max_tokens: 200, seed: 21, ..extra };
                let on = |decoder, threads| SampleOptions { decoder, threads, ..o.clone() };
                let torch = s.generate(&[1, 27], None, None, &on(Decoder::Libtorch, 0), &mut || {}).unwrap();
                let native = s.generate(&[1, 27], None, None, &on(Decoder::Native, 1), &mut || {}).unwrap();
                let threaded = s.generate(&[1, 27], None, None, &on(Decoder::Native, 2), &mut || {}).unwrap();
                assert_eq!(native, torch, "{positions:?} {o:?}");
                assert_eq!(threaded, native, "{positions:?} {o:?}");
                assert!(native.iter().all(|r| r.len() == 202));
            }
        }
    }

    /// A cache that only counts: it remembers where its context starts in the row.
    struct Counting {
        from: usize,
        len: usize,
    }

    impl Steps for Counting {
        fn cached(&self) -> usize {
            self.len
        }
        fn clear(&mut self) {
            *self = Self { from: 0, len: 0 };
        }
        fn drop_oldest(&mut self) {
            (self.from, self.len) = (self.from + 1, self.len - 1);
        }
        fn feed(&mut self, _tokens: &[u32], t: usize) -> Result<Vec<f32>, SampleError> {
            self.len += t;
            Ok(Vec::new())
        }
    }

    #[test]
    fn frame_contexts_start_at_frames_and_hold_the_context_and_the_current_frame() {
        // BOS, then frames of 5 from position 1; 2 frames of context: 15 tokens at most.
        let layout = FrameLayout { token: 9, len: 5, context: 2 };
        for rolling in [false, true] {
            let frames = Some(Frames { layout, first: 1 });
            let window = Window { block: 16, rolling, kv_cache: true, frames, grammar: None };
            let mut steps = Counting { from: 0, len: 0 };
            let mut fed = vec![0; 200];
            for (len, slot) in fed.iter_mut().enumerate().skip(1) {
                let (start, count) = window.next_feed(&mut steps, len);
                if steps.len == 0 {
                    steps.from = start;
                }
                steps.feed(&[], count).unwrap();
                *slot = count;
                assert_eq!(steps.from + steps.len, len, "the cache ends at the row's end");
                assert!(steps.len <= 15, "len {len}: {} cached", steps.len);
                assert!(steps.from == 0 || (steps.from - 1).is_multiple_of(5), "len {len}: starts at {}", steps.from);
                // At a frame's first pixel the context is that frame and the two before it.
                if len > 16 && (len - 2) % 5 == 0 {
                    assert_eq!(steps.len, 11, "len {len}");
                }
            }
            // One token a step, and the two frames kept re-read at each new frame, rotary
            // or not: ten frames cost the same at any length.
            let cost = |from: usize| fed[from..from + 50].iter().sum::<usize>();
            assert_eq!(cost(100), cost(150), "rolling {rolling}");
            assert_eq!(cost(100), 50 + 10 * 10, "rolling {rolling}");
        }
    }

    #[test]
    fn frame_tokens_come_at_frame_starts_only_and_the_cache_matches_recompute() {
        let layout = FrameLayout { token: 12, len: 4, context: 1 };
        for (positions, layers) in [(Positions::Learned, 2), (Positions::Rope, 2)] {
            tch::manual_seed(3);
            let vs = nn::VarStore::new(Device::Cpu);
            let config =
                ModelConfig { n_layer: layers, n_head: 2, n_embd: 16, block_size: 8, positions, ..Default::default() };
            let gpt = Gpt::new(&vs.root(), &config, 14, Kind::Float);
            let s = Sampler::new(&gpt, Device::Cpu);
            let o = SampleOptions { num: 3, max_tokens: 60, min_tokens: 60, seed: 4, ..Default::default() };
            let prompt = [11, 12, 0, 1, 2];
            let out = s.generate(&prompt, Some(13), Some(layout), &o, &mut || {}).unwrap();
            for row in &out {
                assert_eq!(row.len(), 65);
                for (i, &t) in row.iter().enumerate().skip(1) {
                    assert_eq!(t == 12, (i - 1) % 4 == 0, "{positions:?}: token {t} at {i}: {row:?}");
                    assert_ne!(t, 13, "no EOS before min_tokens");
                }
            }
            for decoder in [Decoder::Native, Decoder::Libtorch] {
                let recompute = SampleOptions { kv_cache: false, decoder, ..o.clone() };
                let again = s.generate(&prompt, Some(13), Some(layout), &recompute, &mut || {}).unwrap();
                assert_eq!(again, out, "{positions:?} {decoder}");
            }
            // EOS may end a sample at a frame start only.
            let free = SampleOptions { min_tokens: 0, max_tokens: 400, num: 8, ..o.clone() };
            for row in s.generate(&prompt, Some(13), Some(layout), &free, &mut || {}).unwrap() {
                if row.last() == Some(&13) {
                    assert_eq!((row.len() - 2) % 4, 0, "{row:?}");
                }
            }
        }
    }

    #[test]
    fn decoders_parse_by_name() {
        assert_eq!("native".parse::<Decoder>(), Ok(Decoder::Native));
        assert_eq!("libtorch".parse::<Decoder>().map(|d| d.to_string()), Ok("libtorch".to_string()));
        let err = "torch".parse::<Decoder>().unwrap_err();
        assert!(err.contains("\"torch\"") && err.contains("\"native\""), "{err}");
        let auto = SampleOptions::default();
        assert_eq!(auto.decoder_for(Device::Cpu), Decoder::Native);
        assert_eq!(auto.decoder_for(Device::Cuda(0)), Decoder::Libtorch);
        let bad = SampleOptions { threads: 5000, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("sample.threads"));
    }

    #[test]
    fn sizes_are_bounded_and_checked_against_memory_before_allocating() {
        let (_vs, gpt) = model(16, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let reason = |o: &SampleOptions| match o.validate() {
            Err(SampleError::BadOption { key, reason }) => format!("{key} {reason}"),
            other => panic!("{other:?}"),
        };
        let many = SampleOptions { num: usize::MAX, max_tokens: usize::MAX, ..opts(1, true) };
        assert!(reason(&many).starts_with("num must be at most 65536"), "{}", reason(&many));
        let long = SampleOptions { max_tokens: SampleOptions::MAX_TOKENS + 1, ..opts(1, true) };
        assert!(reason(&long).starts_with("max_tokens must be at most 16777216"), "{}", reason(&long));
        // 1000 rows of a few KB each do not fit in 1 MB; one row does, the weights copied.
        let o = SampleOptions { num: 1000, ..opts(1, true) };
        match s.check_memory(1, &o, Decoder::Native, 1 << 20) {
            Err(SampleError::BadOption { key: "num", reason }) => {
                assert!(reason.contains("1000 samples of 1 + 20 tokens") && reason.contains("fit"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(s.check_memory(1, &SampleOptions { num: 1, ..o.clone() }, Decoder::Native, 1 << 20).is_ok());
        let err = s.check_memory(1, &o, Decoder::Native, 1000).unwrap_err();
        assert!(matches!(err, SampleError::BadOption { key: "max_tokens", .. }), "{err}");
        // An absurd batch (4 TB of rows) is refused by generate itself, before any
        // allocation, where the memory available can be read.
        if crate::config::available_memory().is_some() {
            let absurd = SampleOptions { num: SampleOptions::MAX_NUM, max_tokens: SampleOptions::MAX_TOKENS, ..o };
            let err = s.generate(&[1], None, None, &absurd, &mut || {}).unwrap_err().to_string();
            assert!(err.starts_with("sample.num is too large") && err.contains("of memory but"), "{err}");
        }
    }

    #[test]
    fn a_huge_top_k_keeps_every_token() {
        let (_vs, gpt) = model(8, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let huge = SampleOptions { top_k: Some(usize::MAX), ..opts(2, true) };
        let plain = s.generate(&[1], None, None, &opts(2, true), &mut || {}).unwrap();
        assert_eq!(s.generate(&[1], None, None, &huge, &mut || {}).unwrap(), plain);
    }
}
