//! Bits per byte on held-out Python standard-library files: the code tokenizer one
//! token per byte (char level) beside the same tokenizer with BPE merges, each model
//! of the same shape trained for the same wall-clock budget, in one run.
//!
//! The budget is hit by a short calibration run per variant (its training throughput
//! fixes `max_steps`, so that the cosine schedule ends at the budget); both variants
//! share the config, the seed and so the split by file. Needs the Python standard
//! library under a data root: `AUTOREG_DATA=/work/shared/datasets`.
//!
//! `AUTOREG_DATA=... cargo run --release -p autoreg-bench --bin code_bpe -- [--budget-s 300] [--vocab 4096]`

use anyhow::{Context, Result};
use autoreg::Config;
use autoreg::cli::{EvalArgs, ModelArgs, Which};
use autoreg::commands;
use autoreg_bench::budget::{Trained, Work, bench_config, describe, train_for};
use autoreg_bench::project_root;
use autoreg_train::RunDir;
use clap::Parser;
use std::f64::consts::LN_2;
use std::path::{Path, PathBuf};

/// Bits per byte of Python code, char level beside BPE, at the same training budget.
#[derive(Debug, Parser)]
struct Options {
    /// Training seconds for each variant.
    #[arg(long, default_value_t = 300.0)]
    budget_s: f64,
    /// BPE vocabulary size (base ids included).
    #[arg(long, default_value_t = 4096)]
    vocab: usize,
    /// Steps of each calibration run, which measures the training throughput.
    #[arg(long, default_value_t = 30)]
    calib_steps: i64,
    /// The config both variants start from (its `[tokenizer.bpe]` is replaced).
    #[arg(long, default_value_os_t = project_root().join("configs/python-code.toml"))]
    config: PathBuf,
    #[command(flatten)]
    work: Work,
}

/// One variant's training and evaluation.
struct Measured {
    trained: Trained,
    /// Validation tokens predicted, bytes they hold, nats per byte.
    tokens: usize,
    bytes: usize,
    nats_per_byte: f64,
    nats_per_token: f64,
    vocab: usize,
}

fn main() -> Result<()> {
    let o = Options::parse();
    let work = o.work.create("code_bpe")?;
    let (base, data) = bench_config(&o.config, &work)?;
    let bpe = base.single()?.bpe.clone().context("the config has no [tokenizer.bpe] to start from")?;
    println!(
        "code_bpe: {}: {}; budget {:.0} s per variant; BPE vocab {} (min_frequency {}, split {:?}); {} thread(s)",
        o.config.display(),
        describe(&base, &data),
        o.budget_s,
        o.vocab,
        bpe.min_frequency,
        bpe.split,
        tch::get_num_threads(),
    );

    let mut char_config = base.clone();
    char_config.name = "code-char".into();
    char_config.single_mut()?.bpe = None;
    let mut bpe_config = base.clone();
    bpe_config.name = format!("code-bpe{}", o.vocab);
    bpe_config.single_mut()?.bpe = Some(autoreg::bpe::BpeConfig { vocab_size: o.vocab, ..bpe });

    let char_level = measure(&char_config, &work, o.budget_s, o.calib_steps)?;
    let bpe_level = measure(&bpe_config, &work, o.budget_s, o.calib_steps)?;

    println!("\nheld-out Python files, {} bytes", char_level.bytes);
    println!(
        "{:<14} {:>6} {:>11} {:>10} {:>9} {:>8} {:>10} {:>11} {:>11}",
        "tokenizer", "vocab", "val tokens", "bytes/tok", "steps", "train s", "s/step", "nats/token", "bits/byte"
    );
    for (name, m) in [("char (bytes)", &char_level), ("BPE", &bpe_level)] {
        println!(
            "{name:<14} {:>6} {:>11} {:>10.3} {:>9} {:>8.1} {:>10.4} {:>11.4} {:>11.4}",
            m.vocab,
            m.tokens,
            m.bytes as f64 / m.tokens as f64,
            m.trained.summary.step,
            m.trained.summary.elapsed_s,
            m.trained.sec_per_step,
            m.nats_per_token,
            m.nats_per_byte / LN_2,
        );
    }
    let ratio = bpe_level.nats_per_byte / char_level.nats_per_byte;
    println!(
        "bits/byte BPE / char = {ratio:.3} ({}); bytes per token BPE / char = {:.2}x",
        if ratio < 1.0 { "BPE is lower" } else { "BPE is NOT lower" },
        (bpe_level.bytes as f64 / bpe_level.tokens as f64) / (char_level.bytes as f64 / char_level.tokens as f64),
    );
    o.work.finish(&work)
}

/// Trains `config` for `budget_s` and evaluates it on the whole validation split.
fn measure(config: &Config, work: &Path, budget_s: f64, calib_steps: i64) -> Result<Measured> {
    let trained = train_for(config, work, budget_s, calib_steps)?;
    let args = EvalArgs::without_baselines(ModelArgs {
        run_dir: trained.run_dir.clone(),
        checkpoint: Which::Last,
        device: None,
    });
    let e = commands::eval(&args)?;
    let (_, bytes, nats_per_byte) = e.per_unit.context("the code tokenizer reports no unit")?;
    let vocab = autoreg::SavedTokenizer::load(&RunDir::new(&trained.run_dir).tokenizer_path())?.pipeline().vocab_size();
    Ok(Measured { trained, tokens: e.tokens, bytes, nats_per_byte, nats_per_token: e.loss, vocab })
}
