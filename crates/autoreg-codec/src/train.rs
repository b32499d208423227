//! Training a codec on a run's signals: the autoencoder by AdamW on the L1 distance of
//! the standardized features (for audio, plus that of log mel energies, which weigh
//! low frequencies as hearing and MFCCs do), plus the commitment loss (β = 0.25); the
//! codebook by
//! exponential moving averages (decay 0.99), with codes unused for a while restarted
//! on vectors of the batch ("Robust training of vector quantized bottleneck models",
//! Łańcucki et al. 2020). Crops are drawn from the step number and the seed, and a
//! checkpoint holds every tensor that changes, so a killed training resumes exactly.

use crate::codec::{Codec, Trained};
use crate::config::CodecConfig;
use crate::error::CodecError;
use crate::features::{FLOOR, Features};
use crate::mel::mel_filters;
use crate::net::{CODEBOOK, MEAN, Net, STD, nearest, per_channel, shapes};
use autoreg_data::Progress;
use autoreg_model::{OptimConfig, Optimizer};
use autoreg_tokens::SignalShape;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use tch::nn::{Init, VarStore};
use tch::{Device, Kind, Tensor};

/// The codebook's moving averages decay by this much per step.
const DECAY: f64 = 0.99;
/// Weight of the commitment loss.
const BETA: f64 = 0.25;
/// Mel bands of the loss on log mel energies.
const MELS: usize = 40;
/// Weight of the loss on log mel energies, beside the log magnitudes' (whose bins weigh
/// high frequencies as much as low ones).
const MEL_WEIGHT: f64 = 1.0;
/// Codes are checked for disuse this often, in steps.
const RESTART_EVERY: usize = 50;
/// A code whose moving count of vectors falls below this is restarted.
const DEAD: f64 = 0.03;
/// A checkpoint is written this often, in steps.
const CHECKPOINT_EVERY: usize = 100;

/// How a training reports and where it keeps its checkpoint.
pub struct Training<'a> {
    /// Told of each step.
    pub progress: &'a dyn Progress,
    /// The folder of the checkpoint that a killed training resumes from, named by
    /// the settings and the data (`codec-<key>.checkpoint`) and removed when training
    /// ends. `None`: no checkpoint.
    pub checkpoints: Option<&'a Path>,
}

/// Trains a codec of `config` on `signals` (each a run of values in `[-1, 1]` of
/// `shape`: audio of any length, whole images), to be saved as `file`.
pub fn train(
    config: &CodecConfig,
    shape: SignalShape,
    signals: &[Vec<f32>],
    file: String,
    training: Training,
) -> Result<Codec, CodecError> {
    if config.from.is_some() {
        return Err(CodecError::Config("a codec given by `from` is not trained again".into()));
    }
    let config = &config.for_shape(shape).map_err(CodecError::Config)?;
    let signals: Vec<&Vec<f32>> = signals.iter().filter(|s| !s.is_empty()).collect();
    if signals.is_empty() {
        return Err(CodecError::Data("the training split holds no signal".into()));
    }
    let start = Instant::now();
    let key = data_key(config, shape, &signals);
    let checkpoint = training.checkpoints.map(|dir| dir.join(format!("codec-{}.checkpoint", &key[..32])));
    let checkpoint = checkpoint.as_deref();
    let (features, mean, std) = standardized(config, shape, &signals)?;
    let vs = variables(config, shape);
    let (k, d) = (config.codebook_size as i64, config.code_dim as i64);
    let mut state = State {
        codebook: Tensor::zeros([k, d], (Kind::Float, Device::Cpu)),
        cluster: Tensor::zeros([k], (Kind::Float, Device::Cpu)),
        sums: Tensor::zeros([k, d], (Kind::Float, Device::Cpu)),
    };
    let mut tensors: HashMap<String, Tensor> = vs.variables();
    tensors.insert(CODEBOOK.into(), state.codebook.shallow_clone());
    tensors.insert(MEAN.into(), mean.shallow_clone());
    tensors.insert(STD.into(), std.shallow_clone());
    let net = Net::new(tensors, config, shape);
    let optim = OptimConfig { beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.0, muon: None };
    let mut optimizer = Optimizer::new(&vs, optim);

    let mut first = 0;
    if let Some(path) = checkpoint.filter(|p| p.exists()) {
        first = resume(path, &key, &vs, &mut optimizer, &mut state)?;
    }
    // Audio: the mel filters of the loss, and crops of `crop_frames` with silence after
    // a short recording. Images train whole.
    let (mels, crop) = match shape {
        SignalShape::Wave { rate } => {
            let bins = Features::channels(config, shape);
            let mels = Tensor::from_slice(&mel_filters(MELS, config.n_fft(), rate)).view([MELS as i64, bins]);
            let silence = (Tensor::full_like(&mean, FLOOR.ln()) - &mean) / &std; // (bins)
            (Some(mels), Some((config.crop_frames() as i64, silence)))
        }
        SignalShape::Image { .. } => (None, None),
    };
    let lengths = features.iter().map(|f| f.size()[f.dim() - 1]).collect();
    let batches = Batches { features: &features, lengths, crop, config };
    training.progress.begin("training the codec", config.steps as u64);
    training.progress.advance(first as u64);
    let mut steps = first;
    for step in first..config.steps {
        let x = batches.draw(step); // (B, C, F...)
        let z = net.encode(&x); // (B, D, T...)
        let flat = z.movedim(&[1i64][..], &[-1i64][..]).reshape([-1, d]); // (N, D)
        tch::no_grad(|| state.update(&flat, step, config));
        let (_, q) = net.quantize(&z); // (B, D, T...)
        let straight = &z + (&q - &z).detach();
        let y = net.decode(&straight); // (B, C, F...)
        let mut loss = (&y - &x).abs().mean(Kind::Float) + BETA * (&z - q.detach()).square().mean(Kind::Float);
        if let Some(mels) = &mels {
            let mel = |x: &Tensor| mels.matmul(&net.unstandardize(x).exp()).clamp_min(FLOOR).log(); // (B, mels, F)
            loss += MEL_WEIGHT * (mel(&y) - mel(&x)).abs().mean(Kind::Float);
        }
        let mut grads = optimizer.gradients(&loss);
        Optimizer::clip_grad_norm(&mut grads, 1.0);
        optimizer.step(&grads, learning_rate(config, step)).map_err(CodecError::Data)?;
        steps = step + 1;
        training.progress.advance(1);
        if let Some(path) = checkpoint.filter(|_| steps.is_multiple_of(CHECKPOINT_EVERY) && steps < config.steps) {
            save_checkpoint(path, &key, steps, &vs, &optimizer, &state)?;
        }
        if config.seconds.is_some_and(|s| start.elapsed().as_secs_f64() > s) {
            break;
        }
    }
    training.progress.end();

    let (reconstruction_l1, perplexity) = measure(&net, &features);
    let trained = Trained {
        steps,
        seconds: start.elapsed().as_secs_f64(),
        signals: signals.len(),
        values: signals.iter().map(|s| s.len()).sum(),
        reconstruction_l1,
        perplexity,
    };
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.extend([(CODEBOOK.into(), state.codebook), (MEAN.into(), mean), (STD.into(), std)]);
    let codec = Codec::new(config.clone(), shape, file, &named, trained)?;
    if let Some(path) = checkpoint.filter(|p| p.exists()) {
        std::fs::remove_file(path).map_err(|source| CodecError::Io { path: path.to_owned(), source })?;
    }
    Ok(codec)
}

/// The standardized features (C, F...) of each signal (audio padded to whole codes;
/// an image must be whole), with the mean and deviation (C) of every position's.
fn standardized(
    config: &CodecConfig,
    shape: SignalShape,
    signals: &[&Vec<f32>],
) -> Result<(Vec<Tensor>, Tensor, Tensor), CodecError> {
    let features = Features::new(config, shape);
    let quantum = features.quantum(config, shape);
    if let Some(whole) = features.whole()
        && let Some((i, s)) = signals.iter().enumerate().find(|(_, s)| s.len() != whole)
    {
        return Err(CodecError::Data(format!("image {i} holds {} values, not the {whole} of a whole image", s.len())));
    }
    let raw: Vec<Tensor> = tch::no_grad(|| {
        signals
            .iter()
            .map(|s| {
                let mut padded = s.to_vec();
                padded.resize(s.len().div_ceil(quantum) * quantum, 0.0);
                features.of(&Tensor::from_slice(&padded).view([1, -1])) // (1, C, F...)
            })
            .collect()
    });
    let channels = Features::channels(config, shape);
    let all = Tensor::cat(&raw.iter().map(|f| f.reshape([channels, -1])).collect::<Vec<_>>(), 1); // (C, all)
    let mean = all.mean_dim([1i64].as_slice(), false, Kind::Float);
    let std = all.std_dim([1i64].as_slice(), true, false).clamp_min(1e-3);
    let standardized =
        raw.iter().map(|f| ((f - per_channel(&mean, f)) / per_channel(&std, f)).squeeze_dim(0)).collect();
    Ok((standardized, mean, std))
}

/// The network's weights, initialised from the seed as PyTorch initialises
/// convolutions (uniform within 1/sqrt(fan in)), biases at zero.
fn variables(config: &CodecConfig, signal: SignalShape) -> VarStore {
    tch::manual_seed(config.seed as i64);
    let vs = VarStore::new(Device::Cpu);
    for (name, shape) in shapes(config, signal) {
        let parts: Vec<&str> = name.split('.').collect();
        let path = parts[..parts.len() - 1].iter().fold(vs.root(), |path, part| path.sub(*part));
        let init = match shape.as_slice() {
            [_, fan_in, kernel @ ..] if !kernel.is_empty() => {
                let bound = ((fan_in * kernel.iter().product::<i64>()) as f64).powf(-0.5);
                Init::Uniform { lo: -bound, up: bound }
            }
            _ => Init::Const(0.0),
        };
        let _ = path.var(parts[parts.len() - 1], &shape, init);
    }
    vs
}

/// Warm-up over the first 100 steps (a tenth of a short training), then a cosine
/// decay to a tenth of the peak.
fn learning_rate(config: &CodecConfig, step: usize) -> f64 {
    let warmup = (config.steps / 10).clamp(1, 100);
    if step < warmup {
        return config.lr * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (config.steps - warmup).max(1) as f64;
    config.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}

/// The codebook and its moving averages.
struct State {
    codebook: Tensor,
    /// Moving count of the vectors each code was given.
    cluster: Tensor,
    /// Moving sum of those vectors.
    sums: Tensor,
}

impl State {
    /// One step of the moving averages from the batch's vectors `flat` (N, D); at the
    /// first step the codebook is drawn from them, and every [`RESTART_EVERY`] steps
    /// codes out of use are drawn anew from them.
    fn update(&mut self, flat: &Tensor, step: usize, config: &CodecConfig) {
        let flat = flat.detach();
        let (n, k) = (flat.size()[0], config.codebook_size as i64);
        let mut rng = StdRng::seed_from_u64(config.seed ^ (step as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 1);
        let mut draw = |count: i64| {
            let rows: Vec<i64> = (0..count).map(|_| rng.random_range(0..n)).collect();
            flat.index_select(0, &Tensor::from_slice(&rows))
        };
        if step == 0 {
            let vectors = draw(k);
            self.codebook.copy_(&vectors);
            self.sums.copy_(&vectors);
            let _ = self.cluster.fill_(1.0);
        }
        let codes = nearest(&flat, &self.codebook);
        let onehot = codes.one_hot(k).to_kind(Kind::Float); // (N, K)
        let _ = self
            .cluster
            .g_mul_scalar_(DECAY)
            .g_add_(&(onehot.sum_dim_intlist([0i64].as_slice(), false, Kind::Float) * (1.0 - DECAY)));
        let _ = self.sums.g_mul_scalar_(DECAY).g_add_(&(onehot.tr().matmul(&flat) * (1.0 - DECAY)));
        let total = self.cluster.sum(Kind::Float);
        let smoothed = (&self.cluster + 1e-5) / (&total + 1e-5 * k as f64) * &total;
        self.codebook.copy_(&(&self.sums / smoothed.unsqueeze(1)));
        if (step + 1).is_multiple_of(RESTART_EVERY) {
            let rows = self.cluster.lt(DEAD).nonzero().view([-1]);
            let dead = rows.size()[0];
            if dead > 0 {
                let vectors = draw(dead);
                let _ = self.codebook.index_copy_(0, &rows, &vectors);
                let _ = self.sums.index_copy_(0, &rows, &vectors);
                let _ = self.cluster.index_fill_(0, &rows, 1.0);
            }
        }
    }
}

/// Training crops, drawn from the step number.
struct Batches<'a> {
    /// Standardized features (C, F...) of each signal.
    features: &'a [Tensor],
    /// Each signal's length along its last axis, which draws are in proportion to.
    lengths: Vec<i64>,
    /// Audio: frames per crop, and the features of silence (bins) that follow a short
    /// recording. `None`: signals are taken whole.
    crop: Option<(i64, Tensor)>,
    config: &'a CodecConfig,
}

impl Batches<'_> {
    /// `batch_size` crops (B, C, F...): each from a signal drawn in proportion to its
    /// length, at a random start.
    fn draw(&self, step: usize) -> Tensor {
        let mut rng = StdRng::seed_from_u64(self.config.seed ^ (step as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let total: i64 = self.lengths.iter().sum();
        let crops: Vec<Tensor> = (0..self.config.batch_size)
            .map(|_| {
                let mut at = rng.random_range(0..total);
                let i = self.lengths.iter().position(|&f| {
                    let inside = at < f;
                    if !inside {
                        at -= f;
                    }
                    inside
                });
                let i = i.unwrap_or(0);
                let Some((crop, silence)) = &self.crop else { return self.features[i].shallow_clone() };
                let f = self.lengths[i];
                if f >= *crop {
                    let start = rng.random_range(0..=f - crop);
                    self.features[i].narrow(1, start, *crop)
                } else {
                    let pad = silence.view([-1, 1]).expand([-1, crop - f], false);
                    Tensor::cat(&[&self.features[i], &pad], 1)
                }
            })
            .collect();
        Tensor::stack(&crops, 0)
    }
}

/// Mean absolute error of the standardized features over `features`, and the
/// perplexity of the codes they are given.
fn measure(net: &Net, features: &[Tensor]) -> (f64, f64) {
    tch::no_grad(|| {
        let (mut error, mut frames) = (0.0, 0i64);
        let mut counts: Option<Tensor> = None;
        for f in features {
            let x = f.unsqueeze(0);
            let (codes, q) = net.quantize(&net.encode(&x));
            let y = net.decode(&q);
            error += (&y - &x).abs().sum(Kind::Float).double_value(&[]);
            frames += f.numel() as i64;
            let k = net.codebook_size();
            let histogram = codes.reshape([-1]).bincount::<Tensor>(None, k).to_kind(Kind::Float);
            counts = Some(match counts {
                Some(c) => c + histogram,
                None => histogram,
            });
        }
        let perplexity = counts.map_or(0.0, |c| {
            let p = &c / c.sum(Kind::Float);
            (-(&p * (&p + 1e-12).log()).sum(Kind::Float)).exp().double_value(&[])
        });
        (error / frames.max(1) as f64, perplexity)
    })
}

/// A key of the settings and the data: a checkpoint of other data or settings is not
/// resumed.
fn data_key(config: &CodecConfig, shape: SignalShape, signals: &[&Vec<f32>]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(format!("{config:?} {shape:?}").as_bytes());
    for s in signals {
        hasher.update(&(s.len() as u64).to_le_bytes());
        for v in s.iter() {
            hasher.update(&v.to_le_bytes());
        }
    }
    hasher.finalize().to_hex().to_string()
}

/// Names of the checkpoint's own tensors.
const STEP: &str = "train.step";
const KEY: &str = "train.key";
const CLUSTER: &str = "vq.cluster";
const SUMS: &str = "vq.sums";

/// Writes every tensor that training changes, and the step, atomically.
fn save_checkpoint(
    path: &Path,
    key: &str,
    step: usize,
    vs: &VarStore,
    optimizer: &Optimizer,
    state: &State,
) -> Result<(), CodecError> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.extend(optimizer.state());
    named.extend([
        (CODEBOOK.into(), state.codebook.shallow_clone()),
        (CLUSTER.into(), state.cluster.shallow_clone()),
        (SUMS.into(), state.sums.shallow_clone()),
        (STEP.into(), Tensor::from_slice(&[step as i64])),
        (KEY.into(), Tensor::from_slice(key.as_bytes())),
    ]);
    let tmp = path.with_extension("partial");
    Tensor::write_safetensors(&named, &tmp)?;
    std::fs::rename(&tmp, path).map_err(|source| CodecError::Io { path: path.to_owned(), source })
}

/// Restores a checkpoint of this data and these settings; returns its step. A
/// checkpoint of other data or settings is an error that names it.
fn resume(
    path: &Path,
    key: &str,
    vs: &VarStore,
    optimizer: &mut Optimizer,
    state: &mut State,
) -> Result<usize, CodecError> {
    let bad = |reason: String| CodecError::weights(path, reason);
    let named = Tensor::read_safetensors(path).map_err(|e| bad(format!("cannot read the codec's checkpoint: {e}")))?;
    let find = |name: &str| {
        named
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| bad(format!("the checkpoint has no {name}")))
    };
    let saved_key = Vec::<u8>::try_from(find(KEY)?)?;
    if saved_key != key.as_bytes() {
        return Err(bad("this checkpoint trained a codec on other data or settings: remove it to train anew".into()));
    }
    let step = find(STEP)?.int64_value(&[0]);
    tch::no_grad(|| -> Result<(), CodecError> {
        for (name, mut var) in vs.variables() {
            var.copy_(find(&name)?);
        }
        state.codebook.copy_(find(CODEBOOK)?);
        state.cluster.copy_(find(CLUSTER)?);
        state.sums.copy_(find(SUMS)?);
        Ok(())
    })?;
    optimizer.load_state(&named, step).map_err(bad)?;
    usize::try_from(step).map_err(|_| bad(format!("step {step}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Coded;
    use autoreg_audio::{AudioConfig, AudioTokenizer};
    use autoreg_data::Silent;
    use autoreg_text::TextTokenizer;
    use autoreg_tokens::Modality;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A codec small enough to train in a second.
    fn tiny(steps: usize) -> CodecConfig {
        CodecConfig {
            hop: Some(16),
            frames_per_code: Some(2),
            codebook_size: 16,
            code_dim: 4,
            channels: 8,
            steps,
            batch_size: 4,
            crop_frames: Some(8),
            griffin_lim: Some(4),
            ..CodecConfig::default()
        }
    }

    /// Chirps and noise bursts of a few hundred values.
    fn signals() -> Vec<Vec<f32>> {
        (0..6)
            .map(|k| {
                (0..300 + 50 * k)
                    .map(|i| {
                        let t = i as f32 / 1000.0;
                        0.5 * (t * (200.0 + 100.0 * k as f32) * (1.0 + t)).sin()
                    })
                    .collect()
            })
            .collect()
    }

    const SHAPE: SignalShape = SignalShape::Wave { rate: 1000 };

    /// One training at a time: each seeds libtorch's one global generator, so trainings
    /// of tests running at once would draw from each other's stream.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn trained(config: &CodecConfig, checkpoints: Option<&Path>, progress: &dyn Progress) -> Result<Codec, CodecError> {
        // A test that kills a training (a panic) leaves the lock poisoned, and free.
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        train(config, SHAPE, &signals(), "codec-test.safetensors".into(), Training { progress, checkpoints })
    }

    #[test]
    fn encoding_then_decoding_keeps_the_length_within_one_code() {
        let codec = trained(&tiny(10), None, &Silent).unwrap();
        assert_eq!(codec.values_per_code(), 32);
        assert_eq!(codec.codes_per_second(), Some(1000.0 / 32.0));
        for len in [1usize, 31, 32, 33, 500] {
            let values: Vec<f32> = (0..len).map(|i| (i as f32 * 0.3).sin()).collect();
            let codes = codec.encode(&values).unwrap();
            assert_eq!(codes.len(), len.div_ceil(32), "{len} values");
            assert!(codes.iter().all(|&c| c < 16));
            let back = codec.decode(&codes).unwrap();
            assert!(back.len() >= len && back.len() < len + 32, "{len} values decode to {}", back.len());
            assert!(back.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
        }
        assert!(codec.encode(&[]).unwrap().is_empty());
        let err = codec.decode(&[3, 16]).unwrap_err().to_string();
        assert!(err.contains("code 16 is outside the codebook of 16"), "{err}");
    }

    /// Panics at its `at`-th step, as a kill would stop a training.
    struct KillAt {
        at: u64,
        done: AtomicU64,
    }

    impl Progress for KillAt {
        fn begin(&self, _what: &str, _total: u64) {}
        fn advance(&self, n: u64) {
            if self.done.fetch_add(n, Ordering::SeqCst) + n == self.at {
                panic!("killed at step {}", self.at);
            }
        }
        fn end(&self) {}
    }

    #[test]
    fn a_killed_training_resumes_exactly_from_its_checkpoint() {
        let config = tiny(CHECKPOINT_EVERY + 20);
        let straight = trained(&config, None, &Silent).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kill = KillAt { at: CHECKPOINT_EVERY as u64 + 10, done: AtomicU64::new(0) };
        let killed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| trained(&config, Some(dir.path()), &kill)));
        assert!(killed.is_err(), "the training was not killed");
        let saved: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(saved.len(), 1, "one checkpoint: {saved:?}");
        let steps = AtomicU64::new(0);
        let counted = KillAt { at: u64::MAX, done: steps };
        let resumed = trained(&config, Some(dir.path()), &counted).unwrap();
        assert_eq!(counted.done.load(Ordering::SeqCst), config.steps as u64, "the bar starts where the checkpoint was");
        assert_eq!(resumed.checksum(), straight.checksum(), "resumed weights differ from a straight training's");
        assert_eq!(resumed.trained().steps, config.steps);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the checkpoint is removed at the end");
        // Another seed trains other weights.
        let other = trained(&CodecConfig { seed: 1, ..config }, None, &Silent).unwrap();
        assert_ne!(other.checksum(), straight.checksum());
    }

    #[test]
    fn weights_are_saved_and_a_changed_file_is_refused_by_its_checksum() {
        let codec = trained(&tiny(5), None, &Silent).unwrap();
        let dir = tempfile::tempdir().unwrap();
        codec.save(dir.path()).unwrap();
        let json = serde_json_round_trip(&codec);
        json.attach(dir.path()).unwrap();
        let values: Vec<f32> = (0..200).map(|i| (i as f32 * 0.1).sin()).collect();
        assert_eq!(json.encode(&values).unwrap(), codec.encode(&values).unwrap());
        let path = dir.path().join(codec.file());
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = serde_json_round_trip(&codec).attach(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()) && err.contains("BLAKE3"), "{err}");
        // Not read: encoding says so rather than panicking.
        let err = serde_json_round_trip(&codec).encode(&values).unwrap_err().to_string();
        assert!(err.contains("were not read"), "{err}");
    }

    fn serde_json_round_trip(codec: &Codec) -> Codec {
        serde_json::from_str(&serde_json::to_string(codec).unwrap()).unwrap()
    }

    #[test]
    fn a_coded_modality_keeps_labels_and_specials_after_the_codes() {
        let codec = trained(&tiny(5), None, &Silent).unwrap();
        let config = |rate| AudioConfig { sample_rate: rate, conditional: true, ..AudioConfig::default() };
        let audio = AudioTokenizer::new(config(1000), vec!["a".into(), "b".into()]).unwrap();
        let (bos, label_b, eos) = (audio.specials().bos, 257, audio.specials().eos);
        let coded = Coded::new(audio, codec.clone()).unwrap();
        assert_eq!(coded.vocab_size(), 16 + 2 + 3);
        assert_eq!(coded.specials().bos, 18);
        let names: Vec<String> = [0, 15, 16, 17, 18].iter().map(|&id| coded.token_name(id).unwrap()).collect();
        assert_eq!(names[..4], ["Code_0", "Code_15", "Label_a", "Label_b"]);
        assert_eq!(coded.extras().classes.unwrap().ids(), 16..18);
        assert_eq!(coded.merge_rule().symbols, 16);
        let doc: Vec<u32> = [bos, label_b].into_iter().chain((0..100).map(|i| (i * 7) % 256)).chain([eos]).collect();
        let codes = coded.encode_ids(&doc).unwrap();
        assert_eq!(codes.len(), 2 + 100usize.div_ceil(32) + 1);
        assert_eq!((codes[0], codes[1], codes[codes.len() - 1]), (18, 17, 19));
        let back = coded.decode_ids(&codes).unwrap();
        assert_eq!((back[0], back[1], back[back.len() - 1]), (bos, label_b, eos));
        assert_eq!(back.len(), 2 + 128 + 1, "values come back in whole codes");
        // One code stands for 32 samples.
        assert_eq!(coded.extras().units.unwrap().count(&codes), 128);

        let other = AudioTokenizer::new(config(8000), vec!["a".into()]).unwrap();
        let err = Coded::new(other, codec.clone()).unwrap_err().to_string();
        assert!(err.contains("rate: 1000") && err.contains("rate: 8000"), "{err}");
        let text = TextTokenizer::byte();
        let err = Coded::new(text, codec).unwrap_err().to_string();
        assert!(err.contains("a text tokenizer carries no signal"), "{err}");
    }

    #[test]
    fn image_codes_cover_patches_and_a_prompt_keeps_whole_rows_of_codes() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for channels in [1u32, 3] {
            let shape = SignalShape::Image { width: 8, height: 12, channels };
            let values = 8 * 12 * channels as usize;
            let config = CodecConfig {
                codebook_size: 16,
                code_dim: 4,
                channels: 8,
                steps: 5,
                batch_size: 4,
                ..CodecConfig::default()
            };
            let images: Vec<Vec<f32>> =
                (0..6).map(|k| (0..values).map(|i| ((i * (k + 1)) as f32 * 0.1).sin()).collect()).collect();
            let training = || Training { progress: &Silent, checkpoints: None };
            let codec = train(&config, shape, &images, "codec-pixels.safetensors".into(), training()).unwrap();
            assert_eq!(codec.config().downsample, Some(4), "the default is saved");
            assert_eq!((codec.values_per_code(), codec.codes_per_signal()), (16 * channels as usize, Some(6)));
            assert_eq!(codec.codes_per_second(), None);
            assert!(codec.to_string().starts_with("16 codes, 2x3 per 8x12 image (4x4 pixels a code, 24 bits"));
            let codes = codec.encode(&images[0]).unwrap();
            assert_eq!(codes.len(), 6);
            let back = codec.decode(&codes).unwrap();
            assert_eq!(back.len(), values);
            assert!(back.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
            // The top 5 rows of pixels: one whole row of codes (4 rows of pixels).
            let row = 8 * channels as usize;
            let top = codec.encode(&images[0][..5 * row]).unwrap();
            assert_eq!(top.len(), 2);
            assert_eq!(codec.decode(&top).unwrap().len(), 4 * row);
            // Codes cut inside a row decode to the whole rows before them; extra ones drop.
            assert_eq!(codec.decode(&codes[..3]).unwrap().len(), 4 * row);
            assert_eq!(codec.decode(&[codes.clone(), codes.clone()].concat()).unwrap().len(), values);
            assert!(codec.encode(&images[0][..row - 1]).unwrap().is_empty());
            let err = codec.encode(&vec![0.0; values + 1]).unwrap_err().to_string();
            assert!(err.contains("more than the"), "{err}");
            // Saved and read back, it codes the same.
            let dir = tempfile::tempdir().unwrap();
            codec.save(dir.path()).unwrap();
            let read = serde_json_round_trip(&codec);
            read.attach(dir.path()).unwrap();
            assert_eq!(read.encode(&images[1]).unwrap(), codec.encode(&images[1]).unwrap());
            // A cut image does not train; nor does an audio key.
            let err = train(&config, shape, &[vec![0.0; 10]], "x".into(), training()).unwrap_err().to_string();
            assert!(err.contains(&format!("image 0 holds 10 values, not the {values}")), "{err}");
            let audio_key = CodecConfig { griffin_lim: Some(8), ..config.clone() };
            let err = train(&audio_key, shape, &images, "x".into(), training()).unwrap_err().to_string();
            assert!(err.contains("`griffin_lim` is a key of audio codecs"), "{err}");
        }
    }
}
