use autoreg_model::{DeviceChoice, Precision};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How documents are divided between training and validation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitMode {
    /// Whole documents, shuffled by the seed: `val_fraction` of them validate.
    #[default]
    Documents,
    /// The last `val_fraction` of every document validates (nanoGPT's split of one file).
    Tail,
    /// Whole files, with all their documents: those whose name matches the glob
    /// `val_files` validate (an upstream split), or without it `val_fraction` of the
    /// files, shuffled by the seed.
    Files,
}

/// How training windows are cut from a split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Windows {
    /// Anywhere in the documents laid end to end (nanoGPT): for text and music.
    #[default]
    Stream,
    /// Inside one document, which keeps its prefix (BOS, class) in front; a short
    /// document is padded. For images and labelled recordings.
    Documents,
}

/// `[data]`: where the files are and how to split them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// A file or a folder (searched recursively), relative to the data root.
    pub path: PathBuf,
    /// The data root. Unset: `$AUTOREG_DATA`, else `datasets/`.
    pub root: Option<PathBuf>,
    /// `"documents"`, `"tail"` or `"files"`.
    pub split: SplitMode,
    /// Share of documents (or of each document, with `split = "tail"`) that validates.
    pub val_fraction: f64,
    /// With `split = "files"`: a glob on file names that picks the validation files,
    /// e.g. `"*_[0-4].wav"`.
    pub val_files: Option<String>,
    /// `"stream"` or `"documents"`: how training windows are cut.
    pub windows: Windows,
    /// Where tokenized data is cached. Unset: the user's cache folder (`~/.cache/autoreg`).
    pub cache_dir: Option<PathBuf>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::new(),
            root: None,
            split: SplitMode::Documents,
            val_fraction: 0.1,
            val_files: None,
            windows: Windows::Stream,
            cache_dir: None,
        }
    }
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
    /// CPU threads for libtorch; 0 keeps libtorch's default.
    pub threads: usize,
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
        }
    }
}

impl TrainConfig {
    /// Checks ranges; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let at_least_one = [
            ("batch_size", self.batch_size),
            ("grad_accum", self.grad_accum),
            ("eval_interval", self.eval_interval),
            ("eval_batches", self.eval_batches),
        ];
        if let Some((key, v)) = at_least_one.iter().find(|(_, v)| *v < 1) {
            return Err(format!("train.{key} must be at least 1, got {v}"));
        }
        if self.max_steps < 0 || self.warmup_steps < 0 {
            return Err("train.max_steps and train.warmup_steps must not be negative".into());
        }
        if !(self.lr > 0.0 && self.min_lr >= 0.0 && self.min_lr <= self.lr) {
            return Err(format!(
                "train.lr must be > 0 and train.min_lr in [0, lr]; got {} and {}",
                self.lr, self.min_lr
            ));
        }
        if !((0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2)) {
            return Err("train.beta1 and train.beta2 must be in [0, 1)".into());
        }
        Ok(())
    }

    /// Step at which the cosine decay ends.
    pub fn decay_end(&self) -> i64 {
        self.decay_steps.unwrap_or(self.max_steps)
    }
}
