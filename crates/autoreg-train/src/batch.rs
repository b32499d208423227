//! Batches of training windows as tensors: the windows come from
//! [`autoreg_data::WindowSampler`], which draws them from a split.

use crate::error::TrainError;
use autoreg_data::{Cut, WindowSampler};
use autoreg_model::IGNORE;
use autoreg_tokens::{Pipeline, TokenStore};
use rand::Rng;
use rand::rngs::StdRng;
use tch::{Device, Tensor};

/// Draws batches of training windows from one split, on a device.
pub struct Batcher {
    sampler: WindowSampler,
    /// The input that pads a short window.
    pad: u32,
    device: Device,
}

impl Batcher {
    /// A batcher over `store`, which it keeps. `name` ("training", "validation")
    /// appears in errors.
    pub fn new(
        store: TokenStore,
        block_size: i64,
        windows: Cut,
        tokenizer: Pipeline<'_>,
        device: Device,
        name: &str,
    ) -> Result<Self, TrainError> {
        let sampler = WindowSampler::new(store, block_size as usize, windows, |doc| tokenizer.prefix_len(doc), name)?;
        Ok(Self { sampler, pad: tokenizer.specials().pad, device })
    }

    /// Number of tokens in the split.
    pub fn len(&self) -> usize {
        self.sampler.len()
    }

    /// Whether the split is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.sampler.is_empty()
    }

    /// `batch` random windows: inputs and targets, (B, T) each on the device; padded
    /// targets are [`IGNORE`]. With `augment`, each window goes through the tokenizer's
    /// augmentation first (which, under merges, may change its length: it is cut to
    /// the window's length).
    pub fn random(&self, batch: i64, rng: &mut StdRng, augment: Option<Pipeline<'_>>) -> (Tensor, Tensor) {
        let t = self.sampler.block();
        let full = self.sampler.window_len();
        let mut x = Vec::with_capacity(batch as usize * t);
        let mut y = Vec::with_capacity(batch as usize * t);
        let mut window = Vec::with_capacity(full);
        for _ in 0..batch {
            self.sampler.draw(rng, &mut window);
            if let Some(tok) = augment {
                tok.augment(&mut window, rng.random());
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
        let pipeline = Pipeline { base: &tok, ids: &Identity { vocab_size: tok.vocab_size() } };
        Batcher::new(store, block, windows, pipeline, Device::Cpu, "validation")
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
