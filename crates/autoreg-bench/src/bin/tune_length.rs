//! Whole tunes: the length in bars of a trained melody run's samples, and how many end by
//! themselves, beside the run's own validation tunes.
//!
//! Samples are drawn as `autoreg sample` draws them (the run's `[sample]` options), one
//! seed each. A sample *ends by itself* when it draws the end token before
//! `sample.max_tokens`, as every tune of the data does. The validation tunes are the
//! documents of the run's validation split, decoded by its tokenizer. A tune's length is
//! the number of bars up to its last note's onset.
//!
//! `cargo run --release -p autoreg-bench --bin tune_length -- [--run runs/melody-bpe] [--num 10]`

use anyhow::{Context, Result, bail};
use autoreg::cli::{ModelArgs, Which};
use autoreg::midi::Score;
use autoreg::run::load_run;
use autoreg_bench::project_root;
use autoreg_model::{SampleOptions, Sampler};
use clap::Parser;
use std::path::PathBuf;

/// Bars per sample and per validation tune, and the share that end by themselves.
#[derive(Debug, Parser)]
struct Options {
    /// A trained run of MIDI tunes.
    #[arg(long, default_value_os_t = project_root().join("runs/melody-bpe"))]
    run: PathBuf,
    /// Samples to draw.
    #[arg(long, default_value_t = 10)]
    num: usize,
    /// The first sample's seed; sample i has seed + i.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// New tokens per sample at most (default: the run's `sample.max_tokens`).
    #[arg(long)]
    max_tokens: Option<usize>,
}

/// What one tune measures.
struct Tune {
    bars: usize,
    ended: bool,
}

fn main() -> Result<()> {
    let o = Options::parse();
    let args = ModelArgs { run_dir: o.run.clone(), checkpoint: Which::Best, device: None };
    let run = load_run(&args).with_context(|| format!("tune_length needs a trained run: {}", o.run.display()))?;
    let tok = run.tokenizer.pipeline();
    if tok.base.kind() != "midi" {
        bail!("{}: a run of MIDI tunes is needed, not {}", o.run.display(), tok.base.kind());
    }
    let specials = tok.specials();
    let max_tokens = o.max_tokens.unwrap_or(run.config.sample.max_tokens);
    let options = SampleOptions { num: 1, max_tokens, ..run.config.sample.clone() };
    println!(
        "tune_length: {} at step {}; {} samples, max_tokens {}, min_tokens {}, temperature {}, top_k {:?}",
        o.run.display(),
        run.checkpoint.state.step,
        o.num,
        options.max_tokens,
        options.min_tokens,
        options.temperature,
        options.top_k,
    );

    let sampler = Sampler::new(&run.model, run.device);
    let mut samples = Vec::with_capacity(o.num);
    for i in 0..o.num {
        let options = SampleOptions { seed: o.seed + i as u64, ..options.clone() };
        let rows = sampler.generate(&[specials.bos], Some(specials.eos), None, &options, &mut || {})?;
        let ids = rows.into_iter().next().context("the sampler returned no sample")?;
        let ended = ids.last() == Some(&specials.eos);
        samples.push(measure(&tok.decode(&ids)?.bytes, ended)?);
    }

    let data = autoreg::prepare::reload(&run.config, &o.run, &run.tokenizer, &autoreg_data::Silent)?;
    let tunes: Vec<Tune> = data.val.docs().map(|doc| measure(&tok.decode(&doc)?.bytes, true)).collect::<Result<_>>()?;

    println!("\nseed  bars  ends by itself");
    for (i, s) in samples.iter().enumerate() {
        println!("{:>4}  {:>4}  {:>14}", o.seed + i as u64, s.bars, if s.ended { "yes" } else { "no" });
    }
    println!(
        "\n{:<18} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>15}",
        "", "n", "min", "q1", "med", "q3", "max", "ends by itself"
    );
    for (name, set) in [("samples", &samples), ("validation tunes", &tunes)] {
        summarize(name, set);
    }
    Ok(())
}

/// Bars and ending of the tune in `midi`.
fn measure(midi: &[u8], ended: bool) -> Result<Tune> {
    let score = Score::from_midi(midi, "tune")?;
    let bars = score.notes.iter().map(|n| n.start).max().map_or(0, |last| score.bar_ticks(last).count());
    Ok(Tune { bars, ended })
}

/// One row: the bar counts' quartiles and the share that ends by itself.
fn summarize(name: &str, set: &[Tune]) {
    let mut bars: Vec<usize> = set.iter().map(|t| t.bars).collect();
    bars.sort_unstable();
    let at = |q: f64| bars.get(((bars.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or(0);
    let share = |f: fn(&Tune) -> bool| 100.0 * set.iter().filter(|t| f(t)).count() as f64 / set.len().max(1) as f64;
    println!(
        "{name:<18} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>14.0}%",
        set.len(),
        at(0.0),
        at(0.25),
        at(0.5),
        at(0.75),
        at(1.0),
        share(|t| t.ended),
    );
}
