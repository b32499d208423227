//! Fill in the middle on trained models, in one run.
//!
//! - **FIM for free**: `python-code` (byte-level BPE) trained for the same steps with
//!   `data.fim_rate = 0` and `0.5`; their left-to-right validation loss side by side.
//!   Goal: the FIM model within 1% of the other.
//! - **Code**: single-line infilling on held-out stdlib files, one line per file chosen
//!   by `--seed` (printed): the exact-match rate of greedy decoding given the prefix and
//!   the suffix, beside the same model continuing the prefix alone, and the middle's
//!   nats per byte both ways. Goal: infilling matches at least twice as often.
//! - **Music**: `melody` (REMI) trained with `data.fim_rate = 0.5`; on validation tunes
//!   of at least 8 bars, bars 5-6 masked: their nats per note given bars 1-4 and 7-8,
//!   beside given bars 1-4 alone. Goal: lower with both sides.
//!
//! `AUTOREG_DATA=../shared/datasets cargo run --release -p autoreg-bench --bin infill -- [--code-steps 2000]
//! [--melody-steps 1500] [--docs 100] [--seed 0] [--work DIR --keep] [--reuse]`

use anyhow::{Context, Result};
use autoreg::cli::{ModelArgs, Which};
use autoreg::run::{LoadedRun, load_run};
use autoreg_bench::budget::{Work, bench_config, train_steps};
use autoreg_bench::project_root;
use autoreg_train::{Scorer, evaluate, evaluate_infill, middle_nats};
use clap::Parser;
use std::path::Path;

/// Fill in the middle on trained models.
#[derive(Debug, Parser)]
struct Options {
    /// Training steps of each python-code model.
    #[arg(long, default_value_t = 2000)]
    code_steps: i64,
    /// Training steps of the melody model.
    #[arg(long, default_value_t = 1500)]
    melody_steps: i64,
    /// Held-out documents scored, one middle each.
    #[arg(long, default_value_t = 100)]
    docs: usize,
    /// The seed that chooses the lines.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Measure the runs a kept earlier run left in `--work`, training none.
    #[arg(long)]
    reuse: bool,
    #[command(flatten)]
    work: Work,
}

fn main() -> Result<()> {
    let o = Options::parse();
    let work = o.work.create("infill")?;
    let load = |dir: &Path| load_run(&ModelArgs { run_dir: dir.to_path_buf(), checkpoint: Which::Last, device: None });

    // FIM for free: the same config and steps, with and without FIM.
    let mut code = Vec::new();
    for (name, rate) in [("python-code", 0.0), ("python-code-fim", 0.5)] {
        let (mut config, _) = bench_config(&project_root().join("configs/python-code.toml"), &work)?;
        config.name = name.into();
        config.data.fim_rate = rate;
        if !o.reuse {
            train_steps(config.clone(), &work, o.code_steps)?;
        }
        code.push(load(&config.run_dir())?);
    }
    println!("infill: {} thread(s) for libtorch", tch::get_num_threads());
    println!("FIM for free: python-code, {} steps each, left-to-right validation loss (nats/token):", o.code_steps);
    let losses = code.iter().map(left_to_right).collect::<Result<Vec<_>>>()?;
    println!(
        "  fim_rate 0 {:.4}  fim_rate 0.5 {:.4}  ratio {:.4} (goal <= 1.01)",
        losses[0],
        losses[1],
        losses[1] / losses[0]
    );

    let fim = &code[1];
    let data = autoreg::prepare::reload(&fim.config, fim.dir.path(), &fim.tokenizer, &autoreg_data::Silent)?;
    let s =
        evaluate_infill((&fim.model, fim.device), (&data.val, data.windows), fim.tokenizer.pipeline(), o.docs, o.seed)?;
    let bytes = s.per_unit.as_ref().map_or(0, |(_, n)| *n).max(1) as f64;
    println!(
        "single-line infilling: one line in each of {} held-out files (seed {}), {} middle tokens, {} bytes:",
        s.documents, s.seed, s.tokens, bytes
    );
    let rate = |n: usize| 100.0 * n as f64 / s.documents.max(1) as f64;
    println!("  given prefix and suffix: exact match {:.1}%, {:.4} nats/byte", rate(s.fim_exact), s.fim_nats / bytes);
    println!(
        "  given the prefix alone:  exact match {:.1}%, {:.4} nats/byte",
        rate(s.prefix_exact),
        s.prefix_nats / bytes
    );
    println!(
        "  infilling / left to right exact match: {} (goal >= 2)",
        if s.prefix_exact == 0 {
            "inf".to_owned()
        } else {
            format!("{:.2}", s.fim_exact as f64 / s.prefix_exact as f64)
        }
    );

    // Music: bars 5-6 of 8 given both sides and given the first four alone.
    let (mut config, _) = bench_config(&project_root().join("configs/melody.toml"), &work)?;
    config.name = "melody-fim".into();
    config.data.fim_rate = 0.5;
    if !o.reuse {
        train_steps(config.clone(), &work, o.melody_steps)?;
    }
    let melody = load(&config.run_dir())?;
    bars_5_6(&melody)?;
    o.work.finish(&work)
}

/// The left-to-right validation loss of `run` (windows advancing by half a block).
fn left_to_right(run: &LoadedRun) -> Result<f64> {
    let data = autoreg::prepare::reload(&run.config, run.dir.path(), &run.tokenizer, &autoreg_data::Silent)?;
    let block = run.model.config().block_size as usize;
    let batch = run.config.train.batch_size.max(1) as usize;
    let tok = run.tokenizer.pipeline();
    Ok(evaluate(&run.model, Scorer::Torch(run.device), &data.val, data.windows, tok, batch, Some(block / 2)).loss)
}

/// Prints the nats per note of bars 5-6 of the validation tunes (their first 8 bars)
/// given bars 1-4 and 7-8, and given bars 1-4 alone.
fn bars_5_6(run: &LoadedRun) -> Result<()> {
    let data = autoreg::prepare::reload(&run.config, run.dir.path(), &run.tokenizer, &autoreg_data::Silent)?;
    let tok = run.tokenizer.pipeline();
    let sentinels = tok.fim.context("the melody run has no sentinels")?;
    let eos = tok.specials().eos;
    let (mut tunes, mut notes, mut both, mut alone) = (0, 0, 0.0, 0.0);
    for doc in data.val.docs() {
        let doc: Vec<u32> = doc.to_vec();
        let bounds = tok.unit_bounds(&doc);
        if bounds.len() < 9 {
            continue;
        }
        // The first 8 bars, closed by EOS.
        let eight: Vec<u32> = doc[..bounds[8]].iter().copied().chain([eos]).collect();
        let cut = tok.infill_cut(&eight, 5, 6).map_err(anyhow::Error::msg)?;
        let (b, a) = middle_nats(&run.model, run.device, &eight, cut, (sentinels, data.windows))?;
        both += b;
        alone += a;
        notes += tok.count_units(&eight[cut.a..cut.b]);
        tunes += 1;
    }
    let notes = notes.max(1) as f64;
    println!("music: bars 5-6 of the first 8 of {tunes} validation tunes, {notes} notes, nats/note:");
    println!(
        "  given bars 1-4 and 7-8 {:.4}  given bars 1-4 alone {:.4} (goal: lower with both)",
        both / notes,
        alone / notes
    );
    println!("  not measured here: whether infilled bars stay in the tune's key");
    Ok(())
}
