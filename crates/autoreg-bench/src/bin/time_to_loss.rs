//! Time to a good model, in one invocation: the wall time at which the printed 20-batch
//! validation estimate first reaches 1.886 (nanoGPT's estimate at the end of its CPU
//! recipe), for the PyTorch reference trained with nanoGPT's recipe
//! (`reference/train_step.py --curve`, in the project's `.venv`: 4 layers x 128, block
//! 64, batch 12, AdamW, 2,000 steps) and for autoreg trained with
//! `configs/shakespeare-char.toml` (plus any `--set` overrides). Both estimate every 250
//! steps from 20 validation batches; the wall times include those evaluations. At the
//! end of both runs, it prints their loss over the whole validation split in windows
//! that advance by 32 tokens (`autoreg eval`'s default), beside their wall times.
//!
//! `cargo run --release -p autoreg-bench --bin time_to_loss [-- --set train.optimizer="muon" ...]`

use anyhow::{Context, Result, bail};
use autoreg::cli::{EvalArgs, ModelArgs, TrainArgs, Which};
use autoreg::commands;
use autoreg_bench::budget::{Work, bench_config};
use autoreg_bench::project_root;
use autoreg_train::{MetricsLog, RunDir};
use clap::Parser;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The loss to reach.
const TARGET: f64 = 1.886;

#[derive(Parser)]
struct Args {
    /// Overrides of autoreg's config, e.g. `--set train.optimizer="muon"` (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    set: Vec<String>,
    #[command(flatten)]
    work: Work,
}

/// One printed estimate: step, validation loss, seconds so far.
type Point = (i64, f64, f64);

fn main() -> Result<()> {
    let args = Args::parse();
    let work = args.work.create("time-to-loss")?;
    let (mut config, data) = bench_config(&project_root().join("configs/shakespeare-char.toml"), &work)?;
    config.train.eval_interval = 250;
    config.train.eval_batches = 20;
    println!("time to a 20-batch validation estimate of {TARGET} on {}", data.display());
    println!("reference: PyTorch {}, nanoGPT's CPU recipe (learned positions, AdamW, 2,000 steps)", torch_version()?);
    let (reference, reference_whole) = reference_curve(&data)?;
    println!(
        "autoreg: configs/shakespeare-char.toml{}",
        args.set.iter().map(|s| format!(" --set {s}")).collect::<String>()
    );
    let path = work.join("time-to-loss.toml");
    std::fs::write(&path, config.to_toml()).with_context(|| format!("cannot write {}", path.display()))?;
    commands::train(&TrainArgs { config: Some(path), set: args.set.clone(), resume: None, nproc: 1, init_from: None })?;
    let records = MetricsLog::new(RunDir::new(config.run_dir()).metrics_path()).read()?;
    let ours: Vec<Point> = records.iter().map(|r| (r.step, r.val_loss, r.elapsed_s)).collect();
    let model = ModelArgs { run_dir: config.run_dir(), checkpoint: Which::Last, device: None };
    let whole = commands::eval(&EvalArgs::without_baselines(model))?;

    println!("{:>6}  {:>18}  {:>18}", "step", "reference val (s)", "autoreg val (s)");
    for step in (0..=2000).step_by(250) {
        let cell = |curve: &[Point]| {
            curve.iter().find(|p| p.0 == step).map_or("-".to_string(), |p| format!("{:.4} ({:.0})", p.1, p.2))
        };
        println!("{step:>6}  {:>18}  {:>18}", cell(&reference), cell(&ours));
    }
    let first = |curve: &[Point]| curve.iter().find(|p| p.1 <= TARGET).map(|p| p.2);
    let last = reference.last().copied().context("the reference printed no estimate")?;
    let our_last = ours.last().copied().context("autoreg logged no estimate")?;
    println!(
        "whole validation split, stride 32, at the end: autoreg {:.4} (step {}, {:.1} s), reference {reference_whole:.4} \
         (step {}, {:.1} s)",
        whole.loss, our_last.0, our_last.2, last.0, last.2
    );
    let ours_at = first(&ours).map_or("not reached".to_string(), |t| format!("{t:.1} s"));
    // A reference that does not get there in its 2,000 steps bounds the ratio from above.
    let (theirs_at, ratio) = match (first(&ours), first(&reference)) {
        (Some(a), Some(b)) => (format!("{b:.1} s"), format!("{:.2}", a / b)),
        (Some(a), None) => (
            format!("> {:.1} s (not reached in its {} steps, which ended at {:.4})", last.2, last.0, last.1),
            format!("< {:.2}", a / last.2),
        ),
        (None, Some(b)) => (format!("{b:.1} s"), "-".to_string()),
        (None, None) => ("not reached".to_string(), "-".to_string()),
    };
    args.work.finish(&work)?;
    println!("time to {TARGET}: autoreg {ours_at}, reference {theirs_at}, ratio {ratio}");
    Ok(())
}

/// The PyTorch version in the project's venv.
fn torch_version() -> Result<String> {
    let python = project_root().join(".venv/bin/python");
    let out = Command::new(&python)
        .args(["-c", "import torch; print(torch.__version__)"])
        .output()
        .with_context(|| format!("cannot run {} (run `cargo setup` first)", python.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs the reference's `--curve`: its `step S val V seconds T` lines, and the loss of
/// its last line, `whole V tokens N stride 32`.
fn reference_curve(data: &std::path::Path) -> Result<(Vec<Point>, f64)> {
    let python = project_root().join(".venv/bin/python");
    let script = project_root().join("crates/autoreg-bench/reference/train_step.py");
    let mut child = Command::new(&python)
        .arg("-u")
        .arg(&script)
        .arg(data)
        .args(["--curve", "1337"])
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {} (run `cargo setup` first)", python.display()))?;
    let stdout = child.stdout.take().context("no pipe from the reference")?;
    let (mut curve, mut whole) = (Vec::new(), None);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["step", s, "val", v, "seconds", t] => {
                let point: Point = (s.parse()?, v.parse()?, t.parse()?);
                eprintln!("reference: step {} val {:.4} at {:.1} s", point.0, point.1, point.2);
                curve.push(point);
            }
            ["whole", v, "tokens", _, "stride", "32"] => whole = Some(v.parse()?),
            _ => bail!("unexpected line from the reference: {line:?}"),
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("the reference failed: {status}");
    }
    Ok((curve, whole.context("the reference printed no whole-split loss")?))
}
