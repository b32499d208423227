use crate::schedule::Schedule;
use autoreg_model::{DeviceChoice, Precision};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which optimizer trains the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// AdamW for every parameter.
    #[default]
    Adamw,
    /// Muon for the 2-D matrices of the transformer blocks, AdamW for the embeddings,
    /// norms and biases.
    Muon,
}

/// `[train]`: optimisation, evaluation and hardware.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Where run directories go: `<runs_dir>/<name>/`.
    pub runs_dir: PathBuf,
    /// Sequences per micro-batch.
    pub batch_size: i64,
    /// Micro-batches per optimizer step.
    pub grad_accum: i64,
    /// Optimizer steps in all.
    pub max_steps: i64,
    /// Peak learning rate.
    pub lr: f64,
    /// Learning rate at the end of the cosine decay.
    pub min_lr: f64,
    /// Steps of linear warm-up.
    pub warmup_steps: i64,
    /// Step at which the decay reaches `min_lr`; unset: `max_steps`.
    pub decay_steps: Option<i64>,
    /// `"cosine"` or `"wsd"` (warm-up, stable, linear cool-down).
    pub schedule: Schedule,
    /// With `"wsd"`: the fraction of the steps after the warm-up spent cooling down.
    pub cooldown: f64,
    /// `"adamw"`, or `"muon"`: Muon for the blocks' matrices, AdamW for the rest.
    pub optimizer: OptimizerKind,
    /// Muon's peak learning rate (the schedule scales it as it scales `lr`).
    pub muon_lr: f64,
    /// Muon's momentum.
    pub muon_momentum: f64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂.
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// Decoupled weight decay, on matrices only.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this; 0 turns clipping off.
    pub grad_clip: f64,
    /// Evaluate and checkpoint every this many steps (and at the end).
    pub eval_interval: i64,
    /// Batches per split at each evaluation.
    pub eval_batches: i64,
    /// Seed of data order, initialisation, dropout and the split.
    pub seed: u64,
    /// `"auto"`, `"cpu"`, `"cuda"` or `"cuda:N"`.
    pub device: DeviceChoice,
    /// `"auto"` (bf16 on CUDA, f32 on CPU), `"fp32"` or `"bf16"`.
    pub precision: Precision,
    /// CPU threads for libtorch; 0 keeps libtorch's default (with several ranks on one
    /// machine and no `OMP_NUM_THREADS`: its cores shared out among them).
    pub threads: usize,
    /// Seconds a data-parallel rank waits for the others (the rendezvous, each
    /// collective) before it stops with an error.
    pub dist_timeout_s: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            runs_dir: PathBuf::from("runs"),
            batch_size: 12,
            grad_accum: 1,
            max_steps: 2000,
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 100,
            decay_steps: None,
            schedule: Schedule::Cosine,
            cooldown: 0.2,
            optimizer: OptimizerKind::Adamw,
            muon_lr: 0.02,
            muon_momentum: 0.95,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.1,
            grad_clip: 1.0,
            eval_interval: 250,
            eval_batches: 20,
            seed: 1337,
            device: DeviceChoice::Auto,
            precision: Precision::Auto,
            threads: 0,
            dist_timeout_s: 300.0,
        }
    }
}

/// Most CPU threads `train.threads` may ask for.
const MAX_THREADS: usize = 1024;

/// `Err` naming `key` unless `ok(value)`; `want` says what is allowed.
fn check<T: std::fmt::Display + Copy>(key: &str, value: T, want: &str, ok: impl Fn(T) -> bool) -> Result<(), String> {
    if ok(value) { Ok(()) } else { Err(format!("{key} must be {want}, got {value}")) }
}

impl TrainConfig {
    /// Checks that every number is finite and in range; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let at_least_one = [
            ("train.batch_size", self.batch_size),
            ("train.grad_accum", self.grad_accum),
            ("train.eval_interval", self.eval_interval),
            ("train.eval_batches", self.eval_batches),
        ];
        for (key, v) in at_least_one {
            check(key, v, "at least 1", |v| v >= 1)?;
        }
        let not_negative = [
            ("train.max_steps", self.max_steps),
            ("train.warmup_steps", self.warmup_steps),
            ("train.decay_steps", self.decay_steps.unwrap_or(0)),
        ];
        for (key, v) in not_negative {
            check(key, v, "at least 0", |v| v >= 0)?;
        }
        check("train.lr", self.lr, "a finite number > 0", |v| v.is_finite() && v > 0.0)?;
        check("train.min_lr", self.min_lr, &format!("in [0, train.lr = {}]", self.lr), |v| v >= 0.0 && v <= self.lr)?;
        check("train.cooldown", self.cooldown, "in [0, 1]", |v| (0.0..=1.0).contains(&v))?;
        check("train.muon_lr", self.muon_lr, "a finite number > 0", |v| v.is_finite() && v > 0.0)?;
        check("train.muon_momentum", self.muon_momentum, "in [0, 1)", |v| (0.0..1.0).contains(&v))?;
        for (key, v) in [("train.beta1", self.beta1), ("train.beta2", self.beta2)] {
            check(key, v, "in [0, 1)", |v| (0.0..1.0).contains(&v))?;
        }
        check("train.eps", self.eps, "a finite number > 0", |v| v.is_finite() && v > 0.0)?;
        check("train.weight_decay", self.weight_decay, "a finite number, at least 0", |v| v.is_finite() && v >= 0.0)?;
        check("train.grad_clip", self.grad_clip, "a finite number, at least 0 (0: no clipping)", |v| {
            v.is_finite() && v >= 0.0
        })?;
        check("train.dist_timeout_s", self.dist_timeout_s, "a finite number > 0", |v| v.is_finite() && v > 0.0)?;
        check("train.threads", self.threads, &format!("at most {MAX_THREADS} (0: libtorch's default)"), |v| {
            v <= MAX_THREADS
        })
    }

    /// Step at which the decay reaches `min_lr`.
    pub fn decay_end(&self) -> i64 {
        self.decay_steps.unwrap_or(self.max_steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_is_checked_and_the_key_named() {
        assert_eq!(TrainConfig::default().validate(), Ok(()));
        type Case = (fn(&mut TrainConfig), &'static str);
        let cases: [Case; 20] = [
            (|c| c.dist_timeout_s = 0.0, "train.dist_timeout_s must be a finite number > 0, got 0"),
            (|c| c.muon_lr = 0.0, "train.muon_lr must be a finite number > 0, got 0"),
            (|c| c.muon_momentum = 1.0, "train.muon_momentum must be in [0, 1), got 1"),
            (|c| c.cooldown = 1.5, "train.cooldown must be in [0, 1], got 1.5"),
            (|c| c.lr = f64::INFINITY, "train.lr must be a finite number > 0, got inf"),
            (|c| c.lr = f64::NAN, "train.lr must be"),
            (|c| c.min_lr = f64::NAN, "train.min_lr must be in [0, train.lr"),
            (|c| c.eps = f64::NAN, "train.eps must be a finite number > 0, got NaN"),
            (|c| c.eps = -1.0, "train.eps must be a finite number > 0, got -1"),
            (|c| c.weight_decay = f64::NAN, "train.weight_decay must be a finite number, at least 0"),
            (|c| c.weight_decay = -100.0, "train.weight_decay must be a finite number, at least 0, got -100"),
            (|c| c.grad_clip = -1.0, "train.grad_clip must be"),
            (|c| c.grad_clip = f64::NAN, "train.grad_clip must be"),
            (|c| c.beta2 = f64::NAN, "train.beta2 must be in [0, 1)"),
            (|c| c.max_steps = -1, "train.max_steps must be at least 0, got -1"),
            (|c| c.warmup_steps = -5, "train.warmup_steps must be at least 0"),
            (|c| c.decay_steps = Some(-1), "train.decay_steps must be at least 0"),
            (|c| c.eval_batches = 0, "train.eval_batches must be at least 1, got 0"),
            (|c| c.grad_accum = -2, "train.grad_accum must be at least 1"),
            (|c| c.threads = 1 << 20, "train.threads must be at most 1024"),
        ];
        for (set, want) in cases {
            let mut c = TrainConfig::default();
            set(&mut c);
            let err = c.validate().unwrap_err();
            assert!(err.contains(want), "{err} (wanted {want})");
        }
    }
}
