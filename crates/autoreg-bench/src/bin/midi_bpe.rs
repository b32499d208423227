//! REMI with and without BPE on the carried Nottingham melodies (configs/melody.toml),
//! in one run:
//!
//! - tokens per note of the training and the held-out split, base ids beside merged;
//! - nats per note on the held-out files, each model of the same shape trained for the
//!   same wall-clock budget (a short calibration run per variant fixes `max_steps`);
//! - notes generated per second at batch 1 with the KV cache (notes: the `Pitch`
//!   tokens, counted by the tokenizer's unit, as `autoreg eval` does).
//!
//! `cargo run --release -p autoreg-bench --bin midi_bpe -- [--budget-s 240] [--vocab 1000]`

use anyhow::{Context, Result};
use autoreg::cli::{EvalArgs, ModelArgs, TrainArgs, Which};
use autoreg::commands;
use autoreg::run::load_run;
use autoreg::{Config, SavedTokenizer};
use autoreg_bench::project_root;
use autoreg_model::{SampleOptions, Sampler};
use autoreg_tokens::TokenStore;
use autoreg_train::{MetricsLog, RunDir, TrainSummary, list_files, resolve_data_path};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// REMI beside REMI + BPE on the Nottingham melodies: tokens/note, nats/note, notes/s.
#[derive(Debug, Parser)]
struct Options {
    /// Training seconds for each variant.
    #[arg(long, default_value_t = 240.0)]
    budget_s: f64,
    /// BPE vocabulary size (base ids included).
    #[arg(long, default_value_t = 1000)]
    vocab: usize,
    /// Steps of each calibration run, which measures the training throughput.
    #[arg(long, default_value_t = 30)]
    calib_steps: i64,
    /// Samples generated one at a time (batch 1) for the speed measurement.
    #[arg(long, default_value_t = 8)]
    samples: usize,
    /// New tokens per sample (the end token is not drawn before).
    #[arg(long, default_value_t = 512)]
    sample_tokens: usize,
    /// The config both variants start from.
    #[arg(long, default_value_os_t = project_root().join("configs/melody.toml"))]
    config: PathBuf,
    /// Folder for the runs (default: a new folder under the system's temporary folder).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Keep the runs instead of deleting them at the end.
    #[arg(long)]
    keep: bool,
}

/// One variant's numbers.
struct Measured {
    trained: Trained,
    vocab: usize,
    val_tokens: usize,
    notes: usize,
    nats_per_token: f64,
    nats_per_note: f64,
    speed: Speed,
}

/// Sampling at batch 1.
struct Speed {
    tokens: usize,
    notes: usize,
    seconds: f64,
}

fn main() -> Result<()> {
    let o = Options::parse();
    let work =
        o.work.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("autoreg-midi_bpe-{}", std::process::id())));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let mut base = Config::load(&o.config, &[])?;
    let data_path = resolve_data_path(&base.data, o.config.parent().unwrap_or(Path::new(".")))?;
    let root = data_path.ancestors().nth(base.data.path.components().count()).map(Path::to_path_buf);
    base.data.root = root;
    base.train.runs_dir = work.clone();
    base.tokenizer.bpe = None;
    let bpe_config = autoreg::bpe::BpeConfig { vocab_size: o.vocab, min_frequency: 2, split: None };
    println!(
        "midi_bpe: {} ({}), split {:?} val_fraction {} seed {}; model {} layers x {} (block {}), batch {}; \
         budget {:.0} s per variant; BPE vocab {} (min_frequency {}, the modality's split); sampling {} x {} \
         tokens at batch 1, KV cache; {} thread(s)",
        o.config.display(),
        data_path.display(),
        base.data.split,
        base.data.val_fraction,
        base.train.seed,
        base.model.n_layer,
        base.model.n_embd,
        base.model.block_size,
        base.train.batch_size,
        o.budget_s,
        o.vocab,
        bpe_config.min_frequency,
        o.samples,
        o.sample_tokens,
        tch::get_num_threads(),
    );

    // Tokens per note, from the same base ids and merges that training uses.
    let files = list_files(&data_path, &base.tokenizer.extensions())?;
    let modality = SavedTokenizer::new(base.tokenizer.modality.build(&files)?, None).map_err(anyhow::Error::msg)?;
    let data = autoreg::tokenized::load_base(&base, &files, &modality)?;
    let start = Instant::now();
    let bpe = autoreg::bpe::Bpe::learn(&bpe_config, modality.base.as_dyn(), data.train.docs())?;
    let learn_s = start.elapsed().as_secs_f64();
    let merged = SavedTokenizer::new(modality.base.clone(), Some(bpe)).map_err(anyhow::Error::msg)?;
    println!(
        "\n{} files, {} train + {} held-out documents (cut on bar lines); BPE learned in {learn_s:.1} s, vocab {} -> {}",
        data.files_used,
        data.train.num_docs(),
        data.val.num_docs(),
        modality.pipeline().vocab_size(),
        merged.pipeline().vocab_size(),
    );
    println!(
        "{:<10} {:>8} {:>12} {:>12} {:>12} {:>12} {:>9}",
        "split", "notes", "base tokens", "BPE tokens", "base tok/note", "BPE tok/note", "ratio"
    );
    for (name, store) in [("train", &data.train), ("held-out", &data.val)] {
        let (notes, base_tokens, bpe_tokens) = count(store, &modality, &merged);
        let (b, m) = (base_tokens as f64 / notes as f64, bpe_tokens as f64 / notes as f64);
        println!("{name:<10} {notes:>8} {base_tokens:>12} {bpe_tokens:>12} {b:>13.3} {m:>12.3} {:>8.2}x", b / m);
    }
    drop(data);

    let mut base_run = base.clone();
    base_run.name = "melody-base".into();
    let mut bpe_run = base.clone();
    bpe_run.name = format!("melody-bpe{}", o.vocab);
    bpe_run.tokenizer.bpe = Some(bpe_config);
    let plain = measure(&base_run, &work, &o)?;
    let with_bpe = measure(&bpe_run, &work, &o)?;

    println!("\nheld-out files: {} notes", plain.notes);
    println!(
        "{:<10} {:>6} {:>11} {:>9} {:>8} {:>9} {:>11} {:>10} {:>11} {:>10} {:>11}",
        "tokenizer",
        "vocab",
        "val tokens",
        "tok/note",
        "steps",
        "train s",
        "nats/token",
        "nats/note",
        "sample tok/s",
        "notes/s",
        "notes/sample"
    );
    for (name, m) in [("REMI", &plain), ("REMI+BPE", &with_bpe)] {
        println!(
            "{name:<10} {:>6} {:>11} {:>9.3} {:>8} {:>9.1} {:>11.4} {:>10.4} {:>11.0} {:>10.1} {:>11.1}",
            m.vocab,
            m.val_tokens,
            m.val_tokens as f64 / m.notes as f64,
            m.trained.summary.step,
            m.trained.summary.elapsed_s,
            m.nats_per_token,
            m.nats_per_note,
            m.speed.tokens as f64 / m.speed.seconds,
            m.speed.notes as f64 / m.speed.seconds,
            m.speed.notes as f64 / o.samples as f64,
        );
    }
    let tokens_ratio =
        (plain.val_tokens as f64 / plain.notes as f64) / (with_bpe.val_tokens as f64 / with_bpe.notes as f64);
    let notes_ratio =
        (with_bpe.speed.notes as f64 / with_bpe.speed.seconds) / (plain.speed.notes as f64 / plain.speed.seconds);
    println!(
        "tokens/note base / BPE = {tokens_ratio:.2}x (target >= 2); notes/s BPE / base = {notes_ratio:.2}x (target >= 1.5); \
         nats/note BPE / base = {:.3}",
        with_bpe.nats_per_note / plain.nats_per_note
    );
    if o.keep {
        println!("runs kept in {}", work.display());
    } else {
        std::fs::remove_dir_all(&work).with_context(|| format!("cannot remove {}", work.display()))?;
    }
    Ok(())
}

/// Notes, base tokens and merged tokens of `store`'s documents.
fn count(store: &TokenStore, modality: &SavedTokenizer, merged: &SavedTokenizer) -> (usize, usize, usize) {
    let (base, bpe) = (modality.pipeline(), merged.pipeline());
    store
        .docs()
        .fold((0, 0, 0), |(n, b, m), doc| (n + base.count_units(doc), b + doc.len(), m + bpe.ids.merge(doc).len()))
}

/// Trains `config` for the budget, evaluates it on the held-out split and times sampling.
fn measure(config: &Config, work: &Path, o: &Options) -> Result<Measured> {
    let trained = train_for(config, work, o.budget_s, o.calib_steps)?;
    let model = ModelArgs { run_dir: trained.run_dir.clone(), checkpoint: Which::Last, device: None };
    let e = commands::eval(&EvalArgs { model, markov_order: 3, no_baselines: true })?;
    let (_, notes, nats_per_note) = e.per_unit.context("the MIDI tokenizer reports no unit")?;
    let run = load_run(&ModelArgs { run_dir: trained.run_dir.clone(), checkpoint: Which::Last, device: None })?;
    let tok = run.tokenizer.pipeline();
    let sampler = Sampler::new(&run.model, run.device);
    let specials = tok.specials();
    let mut speed = Speed { tokens: 0, notes: 0, seconds: 0.0 };
    for i in 0..o.samples {
        let options = SampleOptions {
            num: 1,
            max_tokens: o.sample_tokens,
            min_tokens: o.sample_tokens,
            seed: 1000 + i as u64,
            kv_cache: true,
            ..run.config.sample.clone()
        };
        let start = Instant::now();
        let samples = sampler.generate(&[specials.bos], Some(specials.eos), &options, &mut || {})?;
        speed.seconds += start.elapsed().as_secs_f64();
        for s in &samples {
            speed.tokens += s.len().saturating_sub(1);
            speed.notes += tok.count_units(s);
        }
    }
    Ok(Measured {
        trained,
        vocab: tok.vocab_size(),
        val_tokens: e.tokens,
        notes,
        nats_per_token: e.loss,
        nats_per_note,
        speed,
    })
}

/// A run trained to a wall-clock budget.
struct Trained {
    run_dir: PathBuf,
    summary: TrainSummary,
}

/// Trains `config` (a copy named `<name>-calib`, for `calib_steps`) to measure the
/// seconds per step, then trains it for as many steps as fit in `budget_s`, evaluating
/// only at the start and the end.
fn train_for(config: &Config, work: &Path, budget_s: f64, calib_steps: i64) -> Result<Trained> {
    let mut calib = config.clone();
    calib.name = format!("{}-calib", config.name);
    let calib_dir = calib.run_dir();
    train_steps(calib, work, calib_steps)?;
    let records = MetricsLog::new(RunDir::new(&calib_dir).metrics_path()).read()?;
    let tokens_per_s = records.last().map(|r| r.tokens_per_s).filter(|t| *t > 0.0).context("no throughput")?;
    let tokens_per_step = (config.train.batch_size * config.train.grad_accum * config.model.block_size) as f64;
    std::fs::remove_dir_all(&calib_dir).ok();
    let steps = ((budget_s * tokens_per_s / tokens_per_step) as i64).max(1);
    let run_dir = config.run_dir();
    let summary = train_steps(config.clone(), work, steps)?;
    Ok(Trained { run_dir, summary })
}

/// Trains `config` for `steps` steps, evaluating at the start and the end only.
fn train_steps(mut config: Config, work: &Path, steps: i64) -> Result<TrainSummary> {
    config.train.max_steps = steps;
    config.train.eval_interval = steps;
    config.train.warmup_steps = config.train.warmup_steps.min(steps / 10);
    config.train.decay_steps = None;
    let path = work.join(format!("{}.toml", config.name));
    std::fs::write(&path, config.to_toml()).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("training {} for {steps} steps", config.name);
    commands::train(&TrainArgs { config: Some(path), set: Vec::new(), resume: None })
}
