//! The MLP recipe of the shipped melody and digits configs, old (GELU, GPT-2's) beside
//! new (ReLU², the modded-nanogpt speedrun's), at the same wall time, in one run. For
//! each config, the GELU variant trains for the config's `max_steps`, which sets the
//! budget; the ReLU² variant trains for as many steps as fit in that budget: short
//! calibration runs of both, alike, give their speed ratio. Every other setting is the
//! shipped config's.
//! Each is evaluated over the whole held-out split (`autoreg eval`, windows advancing by
//! half a block) in the tokenizer's unit: nats per note for melodies, bits per dimension
//! (pixel) for digits. The shipped configs keep the recipe that wins here.
//!
//! `cargo run --release -p autoreg-bench --bin recipes [-- --config configs/melody.toml ...]`

use anyhow::{Context, Result};
use autoreg::Config;
use autoreg::cli::{EvalArgs, ModelArgs, Which};
use autoreg::commands;
use autoreg_bench::budget::{Work, bench_config, describe, train_steps};
use autoreg_bench::project_root;
use autoreg_model::Mlp;
use clap::Parser;
use std::f64::consts::LN_2;
use std::path::{Path, PathBuf};

#[derive(Parser)]
struct Args {
    /// The configs to compare (repeatable; default: configs/melody.toml and configs/digits.toml).
    #[arg(long)]
    config: Vec<PathBuf>,
    /// Steps of each calibration run, which measure the two variants' speeds.
    #[arg(long, default_value_t = 30)]
    calib_steps: i64,
    #[command(flatten)]
    work: Work,
}

/// One trained variant.
struct Measured {
    steps: i64,
    seconds: f64,
    unit: &'static str,
    nats_per_unit: f64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let work = args.work.create("recipes")?;
    let configs = if args.config.is_empty() {
        ["melody", "digits"].map(|n| project_root().join(format!("configs/{n}.toml"))).to_vec()
    } else {
        args.config.clone()
    };
    let mut lines = Vec::new();
    for path in &configs {
        let (config, data) = bench_config(path, &work)?;
        println!("{}: {}; {} thread(s)", path.display(), describe(&config, &data), tch::get_num_threads());
        let variant = |mlp: Mlp| {
            let mut c = config.clone();
            c.model.mlp = mlp;
            c.name = format!("{}-{}", config.name, format!("{mlp:?}").to_lowercase());
            c
        };
        let (gelu, relu2) = (variant(Mlp::Gelu), variant(Mlp::Relu2));
        // Seconds of a short run of each, with the same evaluations: their ratio.
        let calibrate = |config: &Config| -> Result<f64> {
            let mut c = config.clone();
            c.name.push_str("-calib");
            let seconds = train_steps(c.clone(), &work, args.calib_steps)?.elapsed_s;
            std::fs::remove_dir_all(c.run_dir()).with_context(|| format!("cannot remove {}", c.run_dir().display()))?;
            Ok(seconds)
        };
        let speed_ratio = calibrate(&gelu)? / calibrate(&relu2)?;
        let old = train_and_measure(&gelu, &work, config.train.max_steps)?;
        let new =
            train_and_measure(&relu2, &work, ((config.train.max_steps as f64 * speed_ratio).round() as i64).max(1))?;
        let shipped = format!("{:?}", config.model.mlp);
        lines.push(format!(
            "{}: nats/{u} (bits/{u}) GELU {:.4} ({:.4}), {} steps in {:.0} s; ReLU² {:.4} ({:.4}), {} steps in {:.0} s; \
             ratio {:.3}; shipped: {shipped}",
            config.name,
            old.nats_per_unit,
            old.nats_per_unit / LN_2,
            old.steps,
            old.seconds,
            new.nats_per_unit,
            new.nats_per_unit / LN_2,
            new.steps,
            new.seconds,
            new.nats_per_unit / old.nats_per_unit,
            u = old.unit,
        ));
    }
    args.work.finish(&work)?;
    println!("\nold recipe (GELU) vs new (ReLU²) at the same wall time, whole held-out split:");
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Trains `config` for `steps` steps and evaluates its last checkpoint.
fn train_and_measure(config: &Config, work: &Path, steps: i64) -> Result<Measured> {
    let summary = train_steps(config.clone(), work, steps)?;
    let model = ModelArgs { run_dir: config.run_dir(), checkpoint: Which::Last, device: None };
    let e = commands::eval(&EvalArgs::without_baselines(model))?;
    let (unit, _, nats_per_unit) =
        e.per_unit.with_context(|| format!("{}: the tokenizer reports no unit", config.name))?;
    Ok(Measured { steps: summary.step, seconds: summary.elapsed_s, unit, nats_per_unit })
}
