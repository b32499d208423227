//! The price of sharing one model between modalities: the mixed run of
//! `configs/mixed.toml` beside one model per source, each trained on that source alone
//! for the windows it got in the mixed run (the mixed steps times its share of the
//! weights), with the same model, batch, schedule and seed, so on the same documents
//! and the same split. Prints each source's validation nats per token under both, and
//! their ratio mixed / single (below 1: the sources help each other).
//!
//! `AUTOREG_DATA=... cargo run --release -p autoreg-bench --bin mixed_sharing -- [--steps N]
//! [--mixed RUN] [--work DIR] [--keep]`

use anyhow::Result;
use autoreg::Config;
use autoreg::cli::{ModelArgs, Which};
use autoreg::run::load_run;
use autoreg_bench::budget::{Work, train_steps};
use autoreg_bench::project_root;
use autoreg_train::{Scorer, evaluate};
use clap::Parser;
use std::path::{Path, PathBuf};

/// Mixed beside single-source models at equal windows per source.
#[derive(Debug, Parser)]
struct Options {
    /// The mixed config.
    #[arg(long, default_value_os_t = project_root().join("configs/mixed.toml"))]
    config: PathBuf,
    /// Steps of the mixed model (default: the config's `train.max_steps`).
    #[arg(long)]
    steps: Option<i64>,
    /// A run of this config trained for `--steps`, measured instead of training one.
    #[arg(long)]
    mixed: Option<PathBuf>,
    #[command(flatten)]
    work: Work,
}

/// Each source's validation documents, predicted tokens and nats per token under the run
/// in `run_dir`, its last checkpoint.
fn per_source(run_dir: &Path) -> Result<Vec<(String, usize, f64)>> {
    let run = load_run(&ModelArgs { run_dir: run_dir.to_path_buf(), checkpoint: Which::Last, device: None })?;
    let data = autoreg::prepare::reload(&run.config, run.dir.path(), &run.tokenizer, &autoreg_data::Silent)?;
    let block = run.model.config().block_size as usize;
    let batch = run.config.train.batch_size.max(1) as usize;
    let tok = run.tokenizer.pipeline();
    Ok(data
        .sources
        .iter()
        .map(|span| {
            let val = data.val.slice(span.val.clone());
            let e = evaluate(&run.model, Scorer::Torch(run.device), &val, data.windows, tok, batch, Some(block / 2));
            (span.name.clone(), e.tokens, e.loss)
        })
        .collect())
}

fn main() -> Result<()> {
    let o = Options::parse();
    let work = o.work.create("mixed_sharing")?;
    let mut config = Config::load(&o.config, &[])?;
    config.train.runs_dir = work.clone();
    let steps = o.steps.unwrap_or(config.train.max_steps);
    let total: f64 = config.sources.iter().map(|s| s.weight).sum();
    println!(
        "mixed_sharing: {}, {} sources; model {} layers x {} (block {}), batch {}, {steps} mixed steps; {} thread(s)",
        o.config.display(),
        config.sources.len(),
        config.model.n_layer,
        config.model.n_embd,
        config.model.block_size,
        config.train.batch_size,
        tch::get_num_threads()
    );
    let mixed_dir = match &o.mixed {
        Some(dir) => dir.clone(),
        None => {
            config.name = "mixed".into();
            train_steps(config.clone(), &work, steps)?;
            config.run_dir()
        }
    };
    let mixed = per_source(&mixed_dir)?;
    let mut rows = Vec::new();
    for source in &config.sources {
        let mut single = config.clone();
        single.name = format!("single-{}", source.name);
        single.sources = vec![source.clone()];
        let single_steps = ((steps as f64 * source.weight / total).round() as i64).max(1);
        train_steps(single.clone(), &work, single_steps)?;
        let measured = per_source(&single.run_dir())?;
        rows.push((source.name.clone(), single_steps, measured.into_iter().next()));
    }
    println!(
        "\n{:<14} {:>12} {:>12} {:>12} {:>14} {:>14} {:>12}",
        "source", "val tokens", "mixed steps", "single steps", "mixed nats/t", "single nats/t", "mixed/single"
    );
    for ((name, single_steps, single), (_, tokens, mixed_loss)) in rows.iter().zip(&mixed) {
        let Some((_, _, single_loss)) = single else { continue };
        let share = steps as f64 * config.sources.iter().find(|s| &s.name == name).map_or(0.0, |s| s.weight) / total;
        let ratio = mixed_loss / single_loss;
        println!(
            "{name:<14} {tokens:>12} {share:>12.0} {single_steps:>12} {mixed_loss:>14.4} {single_loss:>14.4} {ratio:>12.3}{}",
            if ratio <= 1.10 { "" } else { "  (more than 10% above)" }
        );
    }
    o.work.finish(&work)
}
