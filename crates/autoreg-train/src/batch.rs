//! Batches of `block_size + 1` token windows drawn from a split.

use crate::error::TrainError;
use autoreg_tokens::{TokenStore, Tokenizer};
use rand::Rng;
use rand::rngs::StdRng;
use tch::{Device, Tensor};

/// Draws windows from one split, its documents laid end to end (nanoGPT style).
pub struct Batcher {
    stream: Vec<u32>,
    block: usize,
    device: Device,
}

impl Batcher {
    /// A batcher over `store`. `name` ("training", "validation") appears in errors.
    pub fn new(store: &TokenStore, block_size: i64, device: Device, name: &str) -> Result<Self, TrainError> {
        let block = block_size as usize;
        let stream: Vec<u32> = store.docs().flatten().copied().collect();
        if stream.len() < block + 1 {
            return Err(TrainError::Data(format!(
                "the {name} split has {} tokens, fewer than model.block_size + 1 = {}: \
                 add data or lower model.block_size",
                stream.len(),
                block + 1
            )));
        }
        Ok(Self { stream, block, device })
    }

    /// Number of tokens in the split.
    pub fn len(&self) -> usize {
        self.stream.len()
    }

    /// Whether the split is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.stream.is_empty()
    }

    /// `batch` windows at random offsets: inputs and targets, (B, T) each on the device.
    /// With `augment`, each window goes through the tokenizer's augmentation first.
    pub fn random(&self, batch: i64, rng: &mut StdRng, augment: Option<&dyn Tokenizer>) -> (Tensor, Tensor) {
        let t = self.block;
        let mut x = Vec::with_capacity(batch as usize * t);
        let mut y = Vec::with_capacity(batch as usize * t);
        let mut window = vec![0u32; t + 1];
        for _ in 0..batch {
            let start = rng.random_range(0..=self.stream.len() - t - 1);
            window.copy_from_slice(&self.stream[start..start + t + 1]);
            if let Some(tok) = augment {
                tok.augment(&mut window, rng.random());
            }
            x.extend(window[..t].iter().map(|&v| i64::from(v)));
            y.extend(window[1..].iter().map(|&v| i64::from(v)));
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
    use rand::SeedableRng;

    #[test]
    fn targets_are_inputs_shifted_by_one() {
        let mut store = TokenStore::new();
        store.push(&(0..50).collect::<Vec<u32>>());
        let b = Batcher::new(&store, 8, Device::Cpu, "training").unwrap();
        let (x, y) = b.random(4, &mut StdRng::seed_from_u64(0), None);
        assert_eq!(x.size(), [4, 8]);
        // The stream counts up, so every target is its input plus one.
        assert!(y.equal(&(&x + 1)));
    }

    #[test]
    fn same_seed_same_batches() {
        let mut store = TokenStore::new();
        store.push(&(0..500).collect::<Vec<u32>>());
        let b = Batcher::new(&store, 8, Device::Cpu, "training").unwrap();
        let (a, _) = b.random(4, &mut StdRng::seed_from_u64(3), None);
        let (c, _) = b.random(4, &mut StdRng::seed_from_u64(3), None);
        let (d, _) = b.random(4, &mut StdRng::seed_from_u64(4), None);
        assert!(a.equal(&c) && !a.equal(&d));
    }

    #[test]
    fn a_split_shorter_than_a_window_is_an_error() {
        let mut store = TokenStore::new();
        store.push(&[1, 2, 3]);
        let err = Batcher::new(&store, 8, Device::Cpu, "validation").err().unwrap().to_string();
        assert!(err.contains("the validation split has 3 tokens, fewer than model.block_size + 1 = 9"), "{err}");
    }
}
