//! The decoders that run a step, each with its own cache: libtorch on the model's
//! device, and the native CPU decoder.

use super::options::SampleError;
use crate::gpt::{Gpt, KvCache};
use crate::native::{NativeCache, NativeModel, Readout};
use tch::{Device, Tensor};

/// A decoder run one step at a time, with its own cache.
pub(super) trait Steps {
    /// Number of cached positions.
    fn cached(&self) -> usize;
    /// Forgets every position.
    fn clear(&mut self);
    /// Forgets the oldest position (rotary models).
    fn drop_oldest(&mut self);
    /// Forgets the `n` newest positions (rejected drafts).
    fn drop_newest(&mut self, n: usize);
    /// Feeds `tokens` (N, t) after the cached positions; returns the logits after each
    /// row's last token, (N, V), or with [`Readout::All`] after each token, (N, t, V),
    /// row-major.
    fn feed_for(&mut self, tokens: &[u32], t: usize, readout: Readout) -> Result<Vec<f32>, SampleError>;
    /// [`Steps::feed_for`] each row's last token.
    fn feed(&mut self, tokens: &[u32], t: usize) -> Result<Vec<f32>, SampleError> {
        self.feed_for(tokens, t, Readout::Last)
    }
}

/// The libtorch path, on the model's device.
pub(super) struct TorchSteps<'a> {
    model: &'a Gpt,
    device: Device,
    cache: KvCache,
    rows: usize,
    /// libtorch's thread count before this run, restored when it ends.
    restore_threads: Option<i32>,
}

impl<'a> TorchSteps<'a> {
    /// Steps of `model` for `rows`, on `threads` CPU threads (0: as they are).
    pub(super) fn new(model: &'a Gpt, device: Device, rows: usize, threads: usize) -> Self {
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

    fn drop_newest(&mut self, n: usize) {
        self.cache.drop_newest(n as i64);
    }

    fn feed_for(&mut self, tokens: &[u32], t: usize, readout: Readout) -> Result<Vec<f32>, SampleError> {
        let ids: Vec<i64> = tokens.iter().map(|&t| i64::from(t)).collect();
        let idx = Tensor::from_slice(&ids).view([self.rows as i64, t as i64]).to_device(self.device); // (N, t)
        let h = self.model.hidden(&idx, Some(&mut self.cache), false); // (N, t, C)
        let logits = match readout {
            Readout::Last => self.model.logits(&h.select(1, t as i64 - 1)), // (N, V)
            Readout::All => self.model.logits(&h),                          // (N, t, V)
        };
        Ok(Vec::<f32>::try_from(logits.to_device(Device::Cpu).contiguous().view([-1]))?)
    }
}

/// The native CPU path.
pub(super) struct NativeSteps<'a> {
    pub(super) model: &'a NativeModel,
    pub(super) cache: NativeCache,
    pub(super) threads: usize,
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

    fn drop_newest(&mut self, n: usize) {
        self.cache.drop_newest(n);
    }

    fn feed_for(&mut self, tokens: &[u32], t: usize, readout: Readout) -> Result<Vec<f32>, SampleError> {
        Ok(self.model.forward(tokens, t, &mut self.cache, self.threads, readout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::logits::draw;
    use crate::sampler::testing::sharp_model;
    use crate::sampler::window::Window;
    use crate::sampler::{Decoder, SampleOptions, Sampler};
    use crate::{Mlp, ModelConfig, Positions};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tch::{Kind, nn};

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
            ModelConfig { mlp: Mlp::GeluTanh, ..shape(Positions::Learned, true) }, // GPT-2's
            every_option,
        ];
        for options in shapes {
            let positions = options.positions;
            for rows in [1, 4] {
                let (_vs, gpt) = sharp_model(11, 32, 24, options.clone());
                let native = NativeModel::new(&gpt, crate::Weights::F32).unwrap();
                let window = Window {
                    block: 24,
                    rolling: positions == Positions::Rope,
                    kv_cache: true,
                    frames: None,
                    grammar: None,
                    never: &[],
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
    fn int8_logits_stay_near_the_f32_ones() {
        // At the initialisation's scale and on a sharp model, 60 steps each: within 2.5%
        // of the logits' spread (measured: 0.5% and 1.7%).
        for (sharp, n_embd) in [(false, 128), (true, 32)] {
            let config = ModelConfig { positions: Positions::Rope, ..Default::default() };
            let (_vs, gpt) = if sharp {
                sharp_model(11, n_embd, 64, config)
            } else {
                tch::manual_seed(3);
                let vs = nn::VarStore::new(Device::Cpu);
                let c = ModelConfig { n_layer: 4, n_head: 4, n_embd, block_size: 64, ..config };
                let gpt = Gpt::new(&vs.root(), &c, 65, Kind::Float);
                (vs, gpt)
            };
            let f32s = NativeModel::new(&gpt, crate::Weights::F32).unwrap();
            let int8 = NativeModel::new(&gpt, crate::Weights::Int8).unwrap();
            let (mut a, mut b) = (f32s.new_cache(1), int8.new_cache(1));
            let (mut worst, mut spread) = (0.0f32, 0.0f32);
            let mut token = 1u32;
            for _ in 0..60 {
                let x = f32s.forward(&[token], 1, &mut a, 1, Readout::Last);
                let y = int8.forward(&[token], 1, &mut b, 1, Readout::Last);
                let (lo, hi) = x.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
                spread = spread.max(hi - lo);
                worst = x.iter().zip(&y).fold(worst, |w, (x, y)| w.max((x - y).abs()));
                token = crate::sampler::logits::argmax(&x);
            }
            assert!(worst <= 0.025 * spread, "sharp {sharp}: int8 logits differ by {worst}, spread {spread}");
        }
    }

    #[test]
    fn same_seed_same_tokens_on_both_decoders_and_any_threads() {
        // The two decoders round differently (logits agree to about 1e-5 here), so over
        // thousands of draws one can fall on the other side of a near-tie and the samples
        // part (`audio_speed` shows where). Over these 200 steps of 4 rows they do not;
        // the logits bound is the test above. Thread counts change no rounding at all.
        for positions in [Positions::Learned, Positions::Rope] {
            let (_vs, gpt) = sharp_model(11, 32, 16, ModelConfig { positions, ..Default::default() });
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
}
