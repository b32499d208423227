//! The sampler: its checks before anything is allocated, the choice of decoder, and the
//! loop that draws every row step by step.

use super::backend::{NativeSteps, Steps, TorchSteps};
use super::logits::draw;
use super::options::{Decoder, DraftChoice, SampleError, SampleOptions};
use super::speculate::{Acceptance, Draft, DraftModel, draw_row};
use super::window::{Frames, Window};
use crate::config::Positions;
use crate::gpt::Gpt;
use crate::native::{NativeModel, Weights};
use autoreg_tokens::{FrameLayout, Grammar};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::cell::{Cell, OnceCell};
use tch::Device;

/// Draws samples from a decoder.
pub struct Sampler<'a> {
    model: &'a Gpt,
    device: Device,
    /// The native decoder's copy of the weights, in f32 and in int8, made on first use.
    native: Natives,
    /// The draft model of speculative decoding (`sample.draft` naming a run), with its
    /// native copies.
    draft: Option<(&'a Gpt, Natives)>,
    /// How the last speculative sampling went.
    acceptance: Cell<Option<Acceptance>>,
    /// What may be drawn after a row, beyond frames.
    grammar: Option<&'a dyn Grammar>,
    /// Ids never drawn.
    never: &'a [u32],
}

impl<'a> Sampler<'a> {
    /// A sampler for `model`, whose variables live on `device`.
    pub fn new(model: &'a Gpt, device: Device) -> Self {
        Self {
            model,
            device,
            native: Natives::default(),
            draft: None,
            acceptance: Cell::new(None),
            grammar: None,
            never: &[],
        }
    }

    /// This sampler, with `draft` (a smaller model of the same tokenizer, on the same
    /// device) as the draft that `sample.draft` naming a run asks for.
    pub fn with_draft(self, draft: &'a Gpt) -> Self {
        Self { draft: Some((draft, Natives::default())), ..self }
    }

    /// How many drafted tokens the last call of [`Sampler::generate`] with
    /// `sample.draft` kept; `None` before one.
    pub fn acceptance(&self) -> Option<Acceptance> {
        self.acceptance.get()
    }

    /// This sampler, never drawing `ids`: a tokenizer's `<bos>` and `<pad>`, which
    /// start a document and fill a batch, and are no one's next token. (An imported
    /// GPT-2 has its one end of text as `<bos>`, `<eos>` and `<pad>`: without them, its
    /// samples follow GPT-2's own distribution.)
    pub fn never_drawing(self, ids: &'a [u32]) -> Self {
        Self { never: ids, ..self }
    }

    /// This sampler, drawing only what `grammar` leaves after each row (a mixture's
    /// segments).
    pub fn with_grammar(self, grammar: &'a dyn Grammar) -> Self {
        Self { grammar: Some(grammar), ..self }
    }

    /// Generates `options.num` continuations of `prompt`. Each result is the prompt
    /// followed by the new tokens, up to and including `eos` when one was drawn.
    /// `on_token` is called after every step; with `sample.draft`, whose rows are drawn
    /// one after another, after every token of each row.
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
            never: self.never,
        };
        let vocab = self.model.vocab_size() as usize;
        let draft = match &options.draft {
            None => None,
            Some(_) if window.frames.is_some() => {
                let reason = "does not work with frames (video) yet: sample without it".to_string();
                return Err(SampleError::BadOption { key: "draft", reason });
            }
            Some(DraftChoice::Ngram) => Some(None),
            Some(DraftChoice::Run(path)) => {
                let Some((model, natives)) = &self.draft else {
                    let reason = format!("names the run {}, but no draft model was loaded", path.display());
                    return Err(SampleError::BadOption { key: "draft", reason });
                };
                if model.vocab_size() != self.model.vocab_size() {
                    let reason = format!(
                        "{} has a vocabulary of {} ids, the model {}: a draft needs the same tokenizer",
                        path.display(),
                        model.vocab_size(),
                        self.model.vocab_size()
                    );
                    return Err(SampleError::BadOption { key: "draft", reason });
                }
                Some(Some((*model, natives)))
            }
        };
        // With a draft model, its context and whether its cache rolls.
        let shape =
            draft.map(|d| d.map(|(m, _)| (m.config().block_size as usize, m.config().positions == Positions::Rope)));
        let mut draw = |make: &Make<'_>, make_draft: Option<&Make<'_>>| {
            let draft = shape.map(|s| match (s, make_draft) {
                (Some((block, rolling)), Some(make)) => DraftMaker::Model { make, block, rolling },
                _ => DraftMaker::Ngram,
            });
            draw_rows(make, draft, &window, vocab, prompt, eos, options, on_token)
        };
        let (rows, acceptance) = if decoder == Decoder::Native {
            let model = self.native.get(self.model, options.weights)?;
            let draft_model = match draft {
                Some(Some((m, natives))) => Some(natives.get(m, options.weights)?),
                _ => None,
            };
            let make = native_steps(model, threads);
            let make_draft = draft_model.map(|m| native_steps(m, threads));
            let mut go = || draw(&make, make_draft.as_ref().map(|m| m as &Make<'_>));
            if threads > 1 {
                // The whole loop runs inside the pool, so that splitting a step's work
                // between its threads costs no wake-up of the calling thread.
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| {
                    SampleError::BadOption { key: "threads", reason: format!("cannot start them: {e}") }
                })?;
                pool.install(go)?
            } else {
                go()?
            }
        } else {
            let device = self.device;
            let torch = |m: &'a Gpt| {
                move |rows: usize| -> Result<Box<dyn Steps + 'a>, SampleError> {
                    Ok(Box::new(TorchSteps::new(m, device, rows, threads)))
                }
            };
            let make = torch(self.model);
            let make_draft = draft.flatten().map(|(m, _)| torch(m));
            tch::no_grad(|| draw(&make, make_draft.as_ref().map(|m| m as &Make<'_>)))?
        };
        if acceptance.is_some() {
            self.acceptance.set(acceptance);
        }
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
        // The native decoder copies the weights once. With a draft, rows are drawn one
        // at a time: one row's cache (the draft's is smaller) serves them all.
        let vocab = self.model.vocab_size() as usize;
        let mut fixed = if decoder == Decoder::Native { 4.0 * self.model.config().num_params(vocab) } else { 0.0 };
        let per_row = match (on_host, options.draft.is_some()) {
            (true, false) => host + device,
            (true, true) => {
                fixed += 2.0 * device;
                host
            }
            (false, _) => host,
        };
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

/// Makes native decoders of `model` on `threads` threads.
fn native_steps<'m>(
    model: &'m NativeModel,
    threads: usize,
) -> impl Fn(usize) -> Result<Box<dyn Steps + 'm>, SampleError> + Sync + 'm {
    move |rows| Ok(Box::new(NativeSteps { cache: model.new_cache(rows), model, threads }))
}

/// Makes a decoder for a batch of rows.
type Make<'m> = dyn Fn(usize) -> Result<Box<dyn Steps + 'm>, SampleError> + 'm;

/// The draft that [`draw_rows`] makes.
enum DraftMaker<'d, 'm> {
    /// Prompt lookup.
    Ngram,
    /// A draft model: what makes its decoder, its context, whether its cache rolls.
    Model { make: &'d Make<'m>, block: usize, rolling: bool },
}

/// Draws every row: all in one batch, or with a draft one at a time; returns the rows
/// and, with a draft, how its proposals fared.
#[allow(clippy::too_many_arguments)]
fn draw_rows(
    make: &Make<'_>,
    draft: Option<DraftMaker<'_, '_>>,
    window: &Window,
    vocab: usize,
    prompt: &[u32],
    eos: Option<u32>,
    options: &SampleOptions,
    on_token: &mut (dyn FnMut() + Send),
) -> Result<(Vec<Vec<u32>>, Option<Acceptance>), SampleError> {
    let Some(draft) = draft else {
        let mut steps = make(options.num)?;
        return Ok((draw_all(&mut *steps, window, vocab, prompt, eos, options, on_token)?, None));
    };
    let mut target = make(1)?;
    let mut draft_steps = match draft {
        DraftMaker::Model { make, block, rolling } => Some((make(1)?, (block, rolling))),
        DraftMaker::Ngram => None,
    };
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut stats = Acceptance::default();
    let constrain = |row: &[u32], logits: &mut [f32]| constrain(window, prompt.len(), eos, options, row, logits);
    let mut rows = Vec::with_capacity(options.num);
    for _ in 0..options.num {
        let mut draft = match &mut draft_steps {
            Some((steps, (block, rolling))) => Draft::Model(DraftModel::new(&mut **steps, *block, *rolling)),
            None => Draft::Ngram,
        };
        let (target, draft) = (&mut *target, &mut draft);
        rows.push(draw_row(
            target, window, draft, vocab, prompt, eos, options, &constrain, &mut rng, &mut stats, on_token,
        )?);
    }
    Ok((rows, Some(stats)))
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
    for _ in 0..options.max_tokens {
        let (start, count) = window.next_feed(steps, rows[0].len());
        let tokens: Vec<u32> = rows.iter().flat_map(|r| r[start..start + count].iter().copied()).collect();
        let mut logits = steps.feed(&tokens, count)?; // (N, V)
        let at_frame_start = window.frames.as_ref().map(|f| f.starts_at(rows[0].len()));
        for (i, row) in logits.chunks_exact_mut(vocab).enumerate() {
            if let (Some(f), Some(start)) = (&window.frames, at_frame_start) {
                f.constrain(row, start, eos);
            }
            constrain(window, prompt.len(), eos, options, &rows[i], row);
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

/// Masks in `logits` (V,) what may not follow `row`, a continuation of a prompt of
/// `prompt` tokens: what the grammar forbids, the ids never drawn, and `eos` before
/// `min_tokens` new tokens.
fn constrain(
    window: &Window,
    prompt: usize,
    eos: Option<u32>,
    options: &SampleOptions,
    row: &[u32],
    logits: &mut [f32],
) {
    let vocab = logits.len();
    if let Some(grammar) = window.grammar {
        grammar.mask(row, logits);
    }
    for &id in window.never.iter().filter(|&&id| (id as usize) < vocab) {
        logits[id as usize] = f32::NEG_INFINITY;
    }
    if let Some(e) = eos.filter(|&e| row.len() - prompt < options.min_tokens && (e as usize) < vocab) {
        logits[e as usize] = f32::NEG_INFINITY;
    }
}

/// The native decoder's copies of a model, one per [`Weights`], each made on first use.
#[derive(Default)]
struct Natives {
    f32: OnceCell<NativeModel>,
    int8: OnceCell<NativeModel>,
}

impl Natives {
    /// The copy of `model` with `weights`.
    fn get(&self, model: &Gpt, weights: Weights) -> Result<&NativeModel, SampleError> {
        let cell = match weights {
            Weights::F32 => &self.f32,
            Weights::Int8 => &self.int8,
        };
        if let Some(m) = cell.get() {
            return Ok(m);
        }
        let m = tch::no_grad(|| NativeModel::new(model, weights))?;
        Ok(cell.get_or_init(|| m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::testing::{model, opts};

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
    fn ids_never_drawn_are_not_drawn_at_any_temperature() {
        let (_vs, gpt) = model(16, Positions::Learned);
        let never = [0u32, 3, 5];
        let s = Sampler::new(&gpt, Device::Cpu).never_drawing(&never);
        for temperature in [0.0, 1.0, 5.0] {
            let o = SampleOptions { temperature, num: 8, max_tokens: 40, ..opts(8, true) };
            let rows = s.generate(&[1], None, None, &o, &mut || {}).unwrap();
            let drawn: Vec<u32> = rows.iter().flat_map(|r| r[1..].iter().copied()).collect();
            assert_eq!(drawn.len(), 8 * 40);
            assert!(drawn.iter().all(|t| !never.contains(t)), "temperature {temperature}: {drawn:?}");
        }
        // Without the list they are drawn: the test can fail.
        let o = SampleOptions { temperature: 5.0, num: 8, max_tokens: 40, ..opts(8, true) };
        let rows = Sampler::new(&gpt, Device::Cpu).generate(&[1], None, None, &o, &mut || {}).unwrap();
        assert!(rows.iter().flat_map(|r| &r[1..]).any(|t| never.contains(t)));
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
}
