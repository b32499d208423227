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
use autoreg::cli::{EvalArgs, ModelArgs, Which};
use autoreg::commands;
use autoreg::prepare::{Prepared, prepare};
use autoreg::run::load_run;
use autoreg::{Config, SavedTokenizer};
use autoreg_bench::budget::{Trained, Work, bench_config, describe, train_for};
use autoreg_bench::project_root;
use autoreg_data::Silent;
use autoreg_data::TokenStore;
use autoreg_model::{SampleOptions, Sampler};
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
    #[command(flatten)]
    work: Work,
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
    let work = o.work.create("midi_bpe")?;
    let (mut base, data_path) = bench_config(&o.config, &work)?;
    base.single_mut()?.bpe = None;
    let bpe_config = autoreg::bpe::BpeConfig { vocab_size: o.vocab, min_frequency: 2, split: None };
    println!(
        "midi_bpe: {}: {}; budget {:.0} s per variant; BPE vocab {} (min_frequency {}, the modality's split); \
         sampling {} x {} tokens at batch 1, KV cache; {} thread(s)",
        o.config.display(),
        describe(&base, &data_path),
        o.budget_s,
        o.vocab,
        bpe_config.min_frequency,
        o.samples,
        o.sample_tokens,
        tch::get_num_threads(),
    );

    // Tokens per note, from the same base ids and merges that training uses.
    // The config's root is absolute: the folder it is found from does not matter.
    let Prepared { tokenizer: modality, data } = prepare(&base, Path::new("."), &Silent)?;
    let start = Instant::now();
    let docs: Vec<_> = data.train.docs().collect();
    let bpe = autoreg::bpe::Bpe::learn(&bpe_config, modality.base.as_dyn(), docs.iter().map(|d| &**d))?;
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
    bpe_run.single_mut()?.bpe = Some(bpe_config);
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
    o.work.finish(&work)
}

/// Notes, base tokens and merged tokens of `store`'s documents.
fn count(store: &TokenStore, modality: &SavedTokenizer, merged: &SavedTokenizer) -> (usize, usize, usize) {
    let (base, bpe) = (modality.pipeline(), merged.pipeline());
    store
        .docs()
        .fold((0, 0, 0), |(n, b, m), doc| (n + base.count_units(&doc), b + doc.len(), m + bpe.ids.merge(&doc).len()))
}

/// Trains `config` for the budget, evaluates it on the held-out split and times sampling.
fn measure(config: &Config, work: &Path, o: &Options) -> Result<Measured> {
    let trained = train_for(config, work, o.budget_s, o.calib_steps)?;
    let model = ModelArgs { run_dir: trained.run_dir.clone(), checkpoint: Which::Last, device: None };
    let e = commands::eval(&EvalArgs::without_baselines(model))?;
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
        let samples = sampler.generate(&[specials.bos], Some(specials.eos), None, &options, &mut || {})?;
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
