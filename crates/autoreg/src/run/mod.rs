//! A run directory's files beside the trainer's checkpoints and metrics: its config,
//! its tokenizer, its history and its samples log ([`samples`]); and a trained run opened
//! for sampling and evaluation ([`LoadedRun`]). The trainer's own files and the lock are
//! [`RunDir`]'s.

pub mod samples;

use crate::cli::ModelArgs;
use crate::config::Config;
use crate::registry::SavedTokenizer;
use anyhow::{Context, Result};
use autoreg_model::Gpt;
use autoreg_tokens::write_atomic;
use autoreg_train::{Checkpoint, RunDir, build_model};
use std::path::Path;
use std::time::SystemTime;
use tch::Device;
use tch::nn::VarStore;

/// Writes a new run's `config.toml` and `tokenizer.json`, each atomically.
pub fn write_new(run: &RunDir, config: &Config, tokenizer: &SavedTokenizer) -> Result<()> {
    write_config(run, config)?;
    Ok(tokenizer.save(&run.tokenizer_path())?)
}

/// Writes the run's `config.toml` atomically: the config it trains with from now on.
pub fn write_config(run: &RunDir, config: &Config) -> Result<()> {
    Ok(write_atomic(&run.config_path(), config.to_toml().as_bytes())?)
}

/// The run's saved config.
pub fn read_config(run: &RunDir) -> Result<Config> {
    Config::load(&run.config_path(), &[]).with_context(|| format!("{} is not a run directory", run.path().display()))
}

/// The run's tokenizer, checked first against the checksum that its last checkpoint
/// records, when it has one: an edited tokenizer is named as such.
pub fn read_tokenizer(run: &RunDir) -> Result<SavedTokenizer> {
    if run.path().join("last").symlink_metadata().is_ok() {
        run.checkpoint("last")?.verify_tokenizer()?;
    }
    Ok(SavedTokenizer::load(&run.tokenizer_path())?)
}

/// Appends to the run's `config.history` a line of when `command` ran with `overrides`.
pub fn record_history(run: &RunDir, command: &str, overrides: &[String]) -> Result<()> {
    let sets: String = overrides.iter().map(|o| format!(" --set {o}")).collect();
    let line = format!("{} {command}{sets}\n", humantime::format_rfc3339_seconds(SystemTime::now()));
    append_line(&run.history_path(), &line)
}

/// A run's config, tokenizer and model with the chosen checkpoint's weights.
pub struct LoadedRun {
    /// The run directory.
    pub dir: RunDir,
    /// Its resolved config.
    pub config: Config,
    /// Its tokenizer.
    pub tokenizer: SavedTokenizer,
    /// The checkpoint that was loaded.
    pub checkpoint: Checkpoint,
    /// The decoder, in evaluation mode use.
    pub model: Gpt,
    /// Where the model lives.
    pub device: Device,
    /// The model's variables.
    pub vs: VarStore,
}

impl LoadedRun {
    /// The libtorch decoder's logits after each of `ids` (one sequence): (T, V) in f32,
    /// on the CPU.
    pub fn logits(&self, ids: &[u32]) -> tch::Tensor {
        let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        let idx = tch::Tensor::from_slice(&ids).view([1, -1]).to_device(self.device); // (1, T)
        tch::no_grad(|| self.model.forward_t(&idx, false)).select(0, 0).to_device(Device::Cpu)
    }

    /// Warns, on standard error, when the loaded checkpoint saw no training (step 0, and
    /// not imported):
    /// what `sample` and `eval` give then is that of the untrained model.
    pub fn warn_if_untrained(&self) {
        if self.checkpoint.state.step > 0 || self.checkpoint.state.imported_from.is_some() {
            return;
        }
        let later = match self.dir.checkpoint("last") {
            Ok(last) if last.state.step > 0 => format!(" (`--checkpoint last` is step {})", last.state.step),
            _ => String::new(),
        };
        log::warn!(
            "{} is the checkpoint of step 0: the model saw no training, and is used untrained{later}",
            self.checkpoint.dir.display()
        );
    }
}

/// Opens the run directory named in `args` and loads its model. The run may be
/// training: a checkpoint that the trainer removes while it is read is replaced by the
/// one its link names then.
pub fn load_run(args: &ModelArgs) -> Result<LoadedRun> {
    let dir = RunDir::new(&args.run_dir);
    let link = args.checkpoint.link();
    let checkpoint = dir.checkpoint(link)?;
    // Before it is read: an edited tokenizer is named as such, not as a model that
    // does not fit. Every checkpoint of a run records the same one.
    checkpoint.verify_tokenizer()?;
    let config = read_config(&dir)?;
    let tokenizer = SavedTokenizer::load(&dir.tokenizer_path())?;
    let device = args.device.unwrap_or(config.train.device);
    let (mut vs, model) = build_model(&config.model, &config.train, device, tokenizer.pipeline().vocab_size())?;
    let device = vs.device();
    let (checkpoint, ()) = dir
        .read_checkpoint(link, checkpoint, |checkpoint| checkpoint.load_weights(&mut vs, &config.model))
        .with_context(|| format!("the weights do not fit the model that {} describes", dir.config_path().display()))?;
    Ok(LoadedRun { dir, config, tokenizer, checkpoint, model, device, vs })
}

/// Appends `line` (ending with a newline) to the file at `path`, creating it.
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}
