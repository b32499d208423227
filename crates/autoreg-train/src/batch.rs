//! Batches of `block_size + 1` token windows drawn from a split.

use crate::config::Windows;
use crate::error::TrainError;
use autoreg_model::IGNORE;
use autoreg_tokens::{TokenStore, Tokenizer};
use rand::Rng;
use rand::rngs::StdRng;
use tch::{Device, Tensor};

/// Draws training windows from one split.
pub struct Batcher {
    /// The split's documents, end to end.
    store: TokenStore,
    /// With [`Windows::Documents`], per document of two or more tokens: its index in
    /// `store` and its prefix length.
    docs: Vec<(usize, usize)>,
    /// With [`Windows::Documents`]: cumulative count of window starts per entry of `docs`.
    starts: Vec<usize>,
    windows: Windows,
    block: usize,
    pad: u32,
    device: Device,
}

impl Batcher {
    /// A batcher over `store`, which it keeps. `name` ("training", "validation")
    /// appears in errors.
    pub fn new(
        store: TokenStore,
        block_size: i64,
        windows: Windows,
        tokenizer: &dyn Tokenizer,
        device: Device,
        name: &str,
    ) -> Result<Self, TrainError> {
        let block = block_size as usize;
        let (mut docs, mut starts) = (Vec::new(), Vec::new());
        if windows == Windows::Documents {
            let mut total = 0;
            for (i, doc) in store.docs().enumerate().filter(|(_, d)| d.len() >= 2) {
                docs.push((i, tokenizer.prefix_len(doc).min(block)));
                total += doc.len().saturating_sub(block).max(1);
                starts.push(total);
            }
        }
        let too_short = match windows {
            Windows::Stream => store.num_tokens() < block + 1,
            Windows::Documents => docs.is_empty(),
        };
        if too_short {
            return Err(TrainError::Data(format!(
                "the {name} split has {} tokens, fewer than model.block_size + 1 = {}: \
                 add data or lower model.block_size",
                store.num_tokens(),
                block + 1
            )));
        }
        Ok(Self { store, docs, starts, windows, block, pad: tokenizer.specials().pad, device })
    }

    /// Number of tokens in the split.
    pub fn len(&self) -> usize {
        self.store.num_tokens()
    }

    /// Whether the split is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.store.num_tokens() == 0
    }

    /// `batch` random windows: inputs and targets, (B, T) each on the device; padded
    /// targets are [`IGNORE`]. With `augment`, each window goes through the tokenizer's
    /// augmentation first.
    pub fn random(&self, batch: i64, rng: &mut StdRng, augment: Option<&dyn Tokenizer>) -> (Tensor, Tensor) {
        let t = self.block;
        let mut x = Vec::with_capacity(batch as usize * t);
        let mut y = Vec::with_capacity(batch as usize * t);
        let mut window = Vec::with_capacity(t + 1);
        for _ in 0..batch {
            window.clear();
            match self.windows {
                Windows::Stream => {
                    let stream = self.store.tokens();
                    let start = rng.random_range(0..=stream.len() - t - 1);
                    window.extend_from_slice(&stream[start..start + t + 1]);
                }
                Windows::Documents => {
                    // A document chosen in proportion to its window starts, then a start.
                    let total = self.starts.last().copied().unwrap_or(1);
                    let draw = rng.random_range(0..total);
                    let i = self.starts.partition_point(|&c| c <= draw);
                    let (d, prefix) = self.docs[i];
                    let doc = self.store.doc(d);
                    let len = doc.len();
                    let offset = draw - if i == 0 { 0 } else { self.starts[i - 1] };
                    if offset == 0 {
                        window.extend_from_slice(&doc[..len.min(t + 1)]);
                    } else {
                        window.extend_from_slice(&doc[..prefix]);
                        window.extend_from_slice(&doc[offset + prefix..(offset + t + 1).min(len)]);
                    }
                }
            }
            if let Some(tok) = augment {
                tok.augment(&mut window, rng.random());
            }
            let real = window.len();
            x.extend(window[..real - 1].iter().map(|&v| i64::from(v)));
            y.extend(window[1..].iter().map(|&v| i64::from(v)));
            // Padding after a short document: inputs PAD, targets ignored.
            x.extend(std::iter::repeat_n(i64::from(self.pad), t + 1 - real));
            y.extend(std::iter::repeat_n(IGNORE, t + 1 - real));
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
    use rand::SeedableRng;

    fn batcher(store: TokenStore, block: i64, windows: Windows) -> Result<Batcher, TrainError> {
        Batcher::new(store, block, windows, &TextTokenizer::byte(), Device::Cpu, "validation")
    }

    #[test]
    fn targets_are_inputs_shifted_by_one() {
        let mut store = TokenStore::new();
        store.push(&(0..50).collect::<Vec<u32>>());
        let b = batcher(store, 8, Windows::Stream).unwrap();
        let (x, y) = b.random(4, &mut StdRng::seed_from_u64(0), None);
        assert_eq!(x.size(), [4, 8]);
        // The stream counts up, so every target is its input plus one.
        assert!(y.equal(&(&x + 1)));
    }

    #[test]
    fn same_seed_same_batches() {
        let mut store = TokenStore::new();
        store.push(&(0..500).collect::<Vec<u32>>());
        let b = batcher(store, 8, Windows::Stream).unwrap();
        let (a, _) = b.random(4, &mut StdRng::seed_from_u64(3), None);
        let (c, _) = b.random(4, &mut StdRng::seed_from_u64(3), None);
        let (d, _) = b.random(4, &mut StdRng::seed_from_u64(4), None);
        assert!(a.equal(&c) && !a.equal(&d));
    }

    #[test]
    fn a_split_shorter_than_a_window_is_an_error() {
        let mut store = TokenStore::new();
        store.push(&[1, 2, 3]);
        let err = batcher(store, 8, Windows::Stream).err().unwrap().to_string();
        assert!(err.contains("the validation split has 3 tokens, fewer than model.block_size + 1 = 9"), "{err}");
    }

    #[test]
    fn document_windows_keep_the_prefix_and_pad_short_documents() {
        let mut store = TokenStore::new();
        let long: Vec<u32> = (0..40).collect();
        store.push(&long);
        store.push(&[100, 101, 102]);
        let b = batcher(store, 8, Windows::Documents).unwrap();
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
