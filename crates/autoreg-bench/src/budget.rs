//! Training to a wall-clock budget, for benchmarks that compare tokenizers at the same
//! training time: a short calibration run measures the seconds per step.

use anyhow::{Context, Result};
use autoreg::Config;
use autoreg::cli::TrainArgs;
use autoreg::commands;
use autoreg_data::resolve_data_path;
use autoreg_train::{MetricsLog, RunDir, TrainSummary};
use std::path::{Path, PathBuf};

/// Where a benchmark's runs go: `--work DIR`, else a new temporary folder, deleted at
/// the end unless `--keep`.
#[derive(Debug, clap::Args)]
pub struct Work {
    /// Folder for the runs (default: a new folder under the system's temporary folder).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Keep the runs instead of deleting them at the end.
    #[arg(long)]
    keep: bool,
}

impl Work {
    /// Creates the folder of benchmark `name`'s runs.
    pub fn create(&self, name: &str) -> Result<PathBuf> {
        let dir = self
            .work
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("autoreg-{name}-{}", std::process::id())));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// Deletes `dir` unless `--keep`, and says so when it is kept.
    pub fn finish(&self, dir: &Path) -> Result<()> {
        if self.keep {
            println!("runs kept in {}", dir.display());
            return Ok(());
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))
    }
}

/// The config at `path` for runs under `work`, with its data folder found now and set
/// as an absolute root, so that configs written under `work` find it; and that folder.
pub fn bench_config(path: &Path, work: &Path) -> Result<(Config, PathBuf)> {
    let mut config = Config::load(path, &[])?;
    let data = resolve_data_path(&config.data, path.parent().unwrap_or(Path::new(".")))?;
    config.data.root = data.ancestors().nth(config.data.path.components().count()).map(Path::to_path_buf);
    config.train.runs_dir = work.to_path_buf();
    Ok((config, data))
}

/// The settings both variants share: data, split, seed, model and batch size.
pub fn describe(config: &Config, data: &Path) -> String {
    format!(
        "{}, split {:?} val_fraction {} seed {}; model {} layers x {} (block {}), batch {}",
        data.display(),
        config.data.split,
        config.data.val_fraction,
        config.train.seed,
        config.model.n_layer,
        config.model.n_embd,
        config.model.block_size,
        config.train.batch_size
    )
}

/// A run trained to a wall-clock budget.
pub struct Trained {
    /// Its run directory.
    pub run_dir: PathBuf,
    /// How training ended.
    pub summary: TrainSummary,
    /// Seconds per step measured by the calibration run.
    pub sec_per_step: f64,
}

/// Trains `config` (a copy named `<name>-calib`, for `calib_steps`) to measure the
/// seconds per step, then trains it for as many steps as fit in `budget_s`, evaluating
/// only at the start and the end.
pub fn train_for(config: &Config, work: &Path, budget_s: f64, calib_steps: i64) -> Result<Trained> {
    let mut calib = config.clone();
    calib.name = format!("{}-calib", config.name);
    let calib_dir = calib.run_dir();
    train_steps(calib, work, calib_steps)?;
    let records = MetricsLog::new(RunDir::new(&calib_dir).metrics_path()).read()?;
    let tokens_per_s = records.last().map(|r| r.tokens_per_s).filter(|t| *t > 0.0).context("no throughput")?;
    let tokens_per_step = (config.train.batch_size * config.train.grad_accum * config.model.block_size) as f64;
    let sec_per_step = tokens_per_step / tokens_per_s;
    std::fs::remove_dir_all(&calib_dir).ok();
    let steps = ((budget_s / sec_per_step) as i64).max(1);
    let run_dir = config.run_dir();
    let summary = train_steps(config.clone(), work, steps)?;
    Ok(Trained { run_dir, summary, sec_per_step })
}

/// Trains `config` for `steps` steps, evaluating at the start and the end only.
pub fn train_steps(mut config: Config, work: &Path, steps: i64) -> Result<TrainSummary> {
    config.train.max_steps = steps;
    config.train.eval_interval = steps;
    config.train.warmup_steps = config.train.warmup_steps.min(steps / 10);
    config.train.decay_steps = None;
    let path = work.join(format!("{}.toml", config.name));
    std::fs::write(&path, config.to_toml()).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("training {} for {steps} steps", config.name);
    commands::train(&TrainArgs { config: Some(path), set: Vec::new(), resume: None, nproc: 1, init_from: None })
}
