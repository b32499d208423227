//! Batches of training windows as tensors: the windows come from
//! [`autoreg_data::WindowSampler`], which draws them from a split.

use crate::error::TrainError;
use autoreg_data::TokenStore;
use autoreg_data::{Cut, WindowSampler};
use autoreg_model::IGNORE;
use autoreg_tokens::{FimRates, Pipeline};
use rand::Rng;
use rand::rngs::StdRng;
use std::ops::Range;
use tch::{Device, Tensor};

/// One source's documents in a split, as a [`Batcher`] draws windows from them.
#[derive(Clone, Debug)]
pub struct SplitSource {
    /// The source's name, in errors.
    pub name: String,
    /// Its documents in the split.
    pub docs: Range<usize>,
    /// Its share of windows, relative to the other sources' weights.
    pub weight: f64,
    /// How its windows are cut.
    pub windows: Cut,
}

/// Draws batches of training windows from one split, on a device: from one sampler, or
/// with several sources from each one's in proportion to its weight.
pub struct Batcher {
    samplers: Vec<WindowSampler>,
    /// The samplers' weights, cumulative.
    weights: Vec<f64>,
    /// The input that pads a short window.
    pad: u32,
    /// How often training windows are rearranged for fill in the middle.
    fim: Option<FimRates>,
    device: Device,
}

impl Batcher {
    /// A batcher over `store`, which it keeps. With `sources`, windows come from each
    /// source as its weight says, cut as it says; without, from the whole store, cut by
    /// `windows`. `name` ("training", "validation") appears in errors.
    pub fn new(
        store: TokenStore,
        sources: &[SplitSource],
        block_size: i64,
        windows: Cut,
        tokenizer: Pipeline<'_>,
        device: Device,
        name: &str,
    ) -> Result<Self, TrainError> {
        let block = block_size as usize;
        let sampler = |store, windows, name: &str| {
            WindowSampler::new(store, block, windows, |doc| tokenizer.prefix_len(doc), name)
        };
        let (samplers, weights) = if sources.is_empty() {
            (vec![sampler(store, windows, name)?], vec![1.0])
        } else {
            let mut samplers = Vec::with_capacity(sources.len());
            // Weights are relative: scaled by the largest, so that huge ones (1e308 each)
            // cannot overflow their sum.
            let largest = sources.iter().map(|s| s.weight).fold(0.0, f64::max);
            let mut total = 0.0;
            let mut weights = Vec::with_capacity(sources.len());
            for s in sources {
                samplers.push(sampler(store.slice(s.docs.clone()), s.windows, &format!("{name} ({})", s.name))?);
                total += s.weight / largest;
                weights.push(total);
            }
            (samplers, weights)
        };
        Ok(Self { samplers, weights, pad: tokenizer.specials().pad, fim: None, device })
    }

    /// This batcher, rearranging windows for fill in the middle at `fim`'s rates (see
    /// [`Pipeline::fill_in_the_middle`]) when they are drawn with a tokenizer.
    pub fn with_fim(self, fim: Option<FimRates>) -> Self {
        Self { fim, ..self }
    }

    /// Number of tokens in the split.
    pub fn len(&self) -> usize {
        self.samplers.iter().map(WindowSampler::len).sum()
    }

    /// Whether the split is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sampler of the next window: drawn by weight when there are several, so that
    /// one source's draws are the same as before sources.
    fn pick(&self, rng: &mut StdRng) -> &WindowSampler {
        if self.samplers.len() == 1 {
            return &self.samplers[0];
        }
        let total = self.weights[self.weights.len() - 1];
        let draw = rng.random::<f64>() * total;
        &self.samplers[self.weights.partition_point(|&w| w <= draw).min(self.samplers.len() - 1)]
    }

    /// `batch` random windows: inputs and targets, (B, T) each on the device; padded
    /// targets are [`IGNORE`]. With `shape`, the tokenizer, each window goes through its
    /// augmentation (which, under merges, may change its length) and, at this batcher's
    /// rates, fill in the middle, and is cut back to the window's length.
    pub fn random(&self, batch: i64, rng: &mut StdRng, shape: Option<Pipeline<'_>>) -> (Tensor, Tensor) {
        let t = self.samplers[0].block();
        let full = self.samplers[0].window_len();
        let mut x = Vec::with_capacity(batch as usize * t);
        let mut y = Vec::with_capacity(batch as usize * t);
        let mut window = Vec::with_capacity(full);
        for _ in 0..batch {
            let from_start = self.pick(rng).draw(rng, &mut window);
            if let Some(tok) = shape {
                tok.augment(&mut window, rng.random());
                if let Some(rates) = self.fim {
                    tok.fill_in_the_middle(&mut window, from_start, rates, full, rng);
                }
                window.truncate(full);
            }
            let real = window.len();
            x.extend(window[..real - 1].iter().map(|&v| i64::from(v)));
            y.extend(window[1..].iter().map(|&v| i64::from(v)));
            // Padding after a short document: inputs PAD, targets ignored.
            x.extend(std::iter::repeat_n(i64::from(self.pad), full - real));
            y.extend(std::iter::repeat_n(IGNORE, full - real));
        }
        let shape = [batch, t as i64];
        (
            Tensor::from_slice(&x).view(shape).to_device(self.device),
            Tensor::from_slice(&y).view(shape).to_device(self.device),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoreg_text::TextTokenizer;
    use autoreg_tokens::{Identity, Modality};
    use rand::SeedableRng;

    fn batcher(store: TokenStore, block: i64, windows: Cut) -> Result<Batcher, TrainError> {
        let tok = TextTokenizer::byte();
        let identity = Identity { vocab_size: tok.vocab_size() };
        let pipeline = Pipeline::new(&tok, &identity);
        Batcher::new(store, &[], block, windows, pipeline, Device::Cpu, "validation")
    }

    #[test]
    fn targets_are_inputs_shifted_by_one() {
        let mut store = TokenStore::new();
        store.push(&(0..50).collect::<Vec<u32>>());
        let b = batcher(store, 8, Cut::Stream).unwrap();
        let (x, y) = b.random(4, &mut StdRng::seed_from_u64(0), None);
        assert_eq!(x.size(), [4, 8]);
        // The stream counts up, so every target is its input plus one.
        assert!(y.equal(&(&x + 1)));
    }

    #[test]
    fn same_seed_same_batches() {
        let mut store = TokenStore::new();
        store.push(&(0..500).collect::<Vec<u32>>());
        let b = batcher(store, 8, Cut::Stream).unwrap();
        let (a, _) = b.random(4, &mut StdRng::seed_from_u64(3), None);
        let (c, _) = b.random(4, &mut StdRng::seed_from_u64(3), None);
        let (d, _) = b.random(4, &mut StdRng::seed_from_u64(4), None);
        assert!(a.equal(&c) && !a.equal(&d));
    }

    #[test]
    fn sources_give_windows_in_proportion_to_their_weights() {
        let mut store = TokenStore::new();
        store.push(&(0..50).collect::<Vec<u32>>());
        store.push(&(100..150).collect::<Vec<u32>>());
        let tok = TextTokenizer::byte();
        let identity = Identity { vocab_size: tok.vocab_size() };
        let pipeline = Pipeline::new(&tok, &identity);
        // Weights are relative, and too large to sum in f64 alike.
        for (a, b) in [(3.0, 1.0), (1.5e308, 0.5e308)] {
            let source =
                |name: &str, docs, weight| SplitSource { name: name.into(), docs, weight, windows: Cut::Stream };
            let sources = [source("a", 0..1, a), source("b", 1..2, b)];
            let batcher = Batcher::new(store.clone(), &sources, 8, Cut::Stream, pipeline, Device::Cpu, "training");
            let (x, _) = batcher.unwrap().random(2000, &mut StdRng::seed_from_u64(0), None);
            let firsts = Vec::<i64>::try_from(x.select(1, 0)).unwrap();
            // A window never crosses from one source into the other.
            assert!(firsts.iter().all(|&t| t < 42 || (100..142).contains(&t)), "{firsts:?}");
            let share = firsts.iter().filter(|&&t| t < 100).count() as f64 / 2000.0;
            assert!((share - 0.75).abs() < 0.04, "weights {a} and {b}: source a gave {share} of the windows");
        }
        let short = [SplitSource { name: "a".into(), docs: 0..1, weight: 1.0, windows: Cut::Stream }];
        let mut tiny = TokenStore::new();
        tiny.push(&[1, 2, 3]);
        let err = Batcher::new(tiny, &short, 8, Cut::Stream, pipeline, Device::Cpu, "training").err().unwrap();
        assert!(err.to_string().contains("the training (a) split has 3 tokens"), "{err}");
    }

    #[test]
    fn a_split_shorter_than_a_window_is_an_error() {
        let mut store = TokenStore::new();
        store.push(&[1, 2, 3]);
        let err = batcher(store, 8, Cut::Stream).err().unwrap().to_string();
        assert_eq!(
            err,
            "data: the validation split has 3 tokens, fewer than model.block_size + 1 = 9: \
             add data or lower model.block_size"
        );
    }

    #[test]
    fn document_windows_keep_the_prefix_and_pad_short_documents() {
        let mut store = TokenStore::new();
        let long: Vec<u32> = (0..40).collect();
        store.push(&long);
        store.push(&[100, 101, 102]);
        let b = batcher(store, 8, Cut::Documents).unwrap();
        let (x, y) = b.random(64, &mut StdRng::seed_from_u64(1), None);
        let x = Vec::<i64>::try_from(x.view([-1])).unwrap();
        let y = Vec::<i64>::try_from(y.view([-1])).unwrap();
        let (mut short, mut inside) = (0, 0);
        for (xs, ys) in x.chunks(8).zip(y.chunks(8)) {
            if xs[0] == 100 {
                // The short document: 2 real targets, then padding that is ignored.
                assert_eq!(xs, [100, 101, 258, 258, 258, 258, 258, 258]); // 258 is PAD
                assert_eq!(ys, [101, 102, -100, -100, -100, -100, -100, -100]);
                short += 1;
            } else {
                // The long one always starts with its BOS-like first token.
                assert_eq!(xs[0], 0);
                if xs[1] != 1 {
                    inside += 1;
                    assert!(xs[1..].windows(2).all(|w| w[1] == w[0] + 1));
                }
                assert_eq!(ys[..7], xs[1..], "targets are the inputs shifted by one");
            }
        }
        assert!(short > 0 && inside > 0, "both documents and inner windows are drawn");
    }
}
