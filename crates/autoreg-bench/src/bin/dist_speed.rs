//! What data-parallel training costs on this machine, in one invocation:
//! 1. all-reduce over c10d (Gloo on the CPU, NCCL with `--device cuda`) between
//!    `--nproc` ranks on localhost: the gradients of `configs/shakespeare-char.toml`'s
//!    model, bucketed as training sums them, then single tensors of 1 to 64 MiB, as
//!    time per all-reduce and bus bandwidth (NCCL-tests' convention: bytes x
//!    2(n-1)/n / time);
//! 2. the training step of that config: 1 rank x 2 threads beside 2 ranks x 1 thread,
//!    alternated, with the same global batch.
//!
//! `cargo run --release -p autoreg-bench --bin dist_speed [-- --steps 200 --nproc 2 --device cpu]`
//!
//! The ranks are this program again, started by autoreg's launcher.

use anyhow::{Context, Result, bail};
use autoreg::cli::TrainArgs;
use autoreg::commands;
use autoreg_bench::budget::{Work, bench_config};
use autoreg_bench::{median, project_root};
use autoreg_dist::{Backend, ProcessGroup, RankEnv, launch_local};
use autoreg_model::{DeviceChoice, resolve_device};
use autoreg_train::{MetricsLog, RunDir, build_model};
use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

#[derive(Parser)]
struct Args {
    /// Training steps per timed run.
    #[arg(long, default_value_t = 200)]
    steps: i64,
    /// Ranks for the all-reduce timing.
    #[arg(long, default_value_t = 2)]
    nproc: usize,
    /// Where the all-reduced tensors live: "cpu" (Gloo) or "cuda" (NCCL).
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// As a rank: time all-reduce (set by this program for its ranks).
    #[arg(long, hide = true)]
    rank_all_reduce: bool,
    /// As a rank: train this config (set by this program for its ranks).
    #[arg(long, hide = true)]
    rank_train: Option<PathBuf>,
    /// `--set` overrides for `--rank-train`.
    #[arg(long = "set", hide = true)]
    set: Vec<String>,
    #[command(flatten)]
    work: Work,
}

const CONFIG: &str = "configs/shakespeare-char.toml";

/// The benchmark's ranks are not interrupted by it.
static NO_INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(config) = &args.rank_train {
        let train =
            TrainArgs { config: Some(config.clone()), set: args.set.clone(), resume: None, nproc: 1, init_from: None };
        return commands::train(&train).map(drop);
    }
    if args.rank_all_reduce {
        return time_all_reduce(args.device);
    }
    let exe = std::env::current_exe().context("cannot find this program to start its ranks")?;
    let work = args.work.create("dist-speed")?;

    println!("all-reduce over c10d, {} ranks on localhost, tensors on {}", args.nproc, args.device);
    let device = OsString::from(args.device.to_string());
    launch_local(args.nproc, &exe, &["--rank-all-reduce".into(), "--device".into(), device], &NO_INTERRUPTS)?;

    let (mut config, data) = bench_config(&project_root().join(CONFIG), &work)?;
    config.train.max_steps = args.steps;
    config.train.eval_interval = args.steps;
    config.train.eval_batches = 1;
    config.train.device = DeviceChoice::Cpu;
    println!(
        "\ntraining step of {CONFIG} on {} (global batch {} x {}), {} steps per run, runs alternated",
        data.display(),
        config.train.batch_size,
        config.model.block_size,
        args.steps
    );
    let path = work.join("dist-speed.toml");
    std::fs::write(&path, config.to_toml()).with_context(|| format!("cannot write {}", path.display()))?;
    let layouts = [("1 rank x 2 threads", 1, 2), ("2 ranks x 1 thread", 2, 1)];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); layouts.len()];
    for round in 0..2 {
        for (i, &(_, ranks, threads)) in layouts.iter().enumerate() {
            let name = format!("run-{i}-{round}");
            let child: Vec<OsString> = vec![
                "--rank-train".into(),
                path.clone().into(),
                "--set".into(),
                format!("name={name}").into(),
                "--set".into(),
                format!("train.threads={threads}").into(),
            ];
            launch_local(ranks, &exe, &child, &NO_INTERRUPTS)?;
            let records = MetricsLog::new(RunDir::new(work.join(&name)).metrics_path()).read()?;
            let last = records.last().context("the run logged no evaluation")?;
            let tokens_per_step = (config.train.batch_size * config.model.block_size) as f64;
            times[i].push(1e3 * tokens_per_step / last.tokens_per_s);
        }
    }
    println!("{:>20}  {:>14}", "layout", "ms per step");
    let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    for ((label, ..), ms) in layouts.iter().zip(&medians) {
        println!("{label:>20}  {ms:>14.2}");
    }
    args.work.finish(&work)?;
    println!("step time, 2 ranks x 1 thread vs 1 rank x 2 threads: {:.2}", medians[1] / medians[0]);
    Ok(())
}

/// As a rank: times all-reduce of the model's gradients and of single tensors; rank 0
/// prints.
fn time_all_reduce(choice: DeviceChoice) -> Result<()> {
    let env = RankEnv::from_env()?.context("--rank-all-reduce runs as a rank of this benchmark")?;
    let device = match resolve_device(choice).map_err(anyhow::Error::msg)? {
        Device::Cuda(_) => Device::Cuda(env.local_rank),
        other => other,
    };
    // As training does: the ranks' thread pools share the cores (flattening buckets
    // runs on them).
    tch::set_num_threads(env.threads_per_rank() as i32);
    let mut group = ProcessGroup::new(&env, Backend::for_device(device)?, Duration::from_secs(120))?;
    let n = group.world_size() as f64;
    let bus = |bytes: f64, s: f64| bytes * 2.0 * (n - 1.0) / n / s / 1e9;
    let speaks = group.rank() == 0;

    let config = autoreg::Config::load(&project_root().join(CONFIG), &[])?;
    // Character Shakespeare has 65 symbols.
    let (vs, _model) = build_model(&config.model, &config.train, DeviceChoice::Cpu, 65)?;
    let mut grads: Vec<Tensor> = vs.trainable_variables().iter().map(|t| t.zeros_like().to(device)).collect();
    let bytes: f64 = grads.iter().map(|g| g.numel() as f64 * 4.0).sum();
    let per_call = time(&mut group, 200, |g| g.all_reduce_sum_all(&mut grads))?;
    if speaks {
        println!("{:>28}  {:>12}  {:>14}", "tensors", "ms per call", "bus GB/s");
        let label = format!("gradients, {} tensors, {:.2} MB", grads.len(), bytes / 1e6);
        println!("{label:>28}  {:>12.3}  {:>14.2}", per_call * 1e3, bus(bytes, per_call));
    }
    for mib in [1_i64, 4, 16, 64] {
        let mut t = Tensor::zeros([mib << 18], (Kind::Float, device)); // mib MiB of f32
        let iters = (200 / mib).max(10) as usize;
        let s = time(&mut group, iters, |g| g.all_reduce_sum(&mut t))?;
        if speaks {
            let bytes = (mib << 20) as f64;
            println!("{:>28}  {:>12.3}  {:>14.2}", format!("one tensor of {mib} MiB"), s * 1e3, bus(bytes, s));
        }
    }
    if speaks {
        println!("all-reduce of the gradients: {:.3} ms per step", per_call * 1e3);
    }
    Ok(())
}

/// Seconds per call of `op` over `iters` calls, after 5 warm-up calls, between
/// barriers so that every rank times the same calls.
fn time(
    group: &mut ProcessGroup,
    iters: usize,
    mut op: impl FnMut(&mut ProcessGroup) -> Result<(), autoreg_dist::DistError>,
) -> Result<f64> {
    for _ in 0..5 {
        op(group)?;
    }
    group.barrier(Duration::from_secs(120))?;
    let start = Instant::now();
    for _ in 0..iters {
        op(group)?;
    }
    group.barrier(Duration::from_secs(120))?;
    let s = start.elapsed().as_secs_f64() / iters as f64;
    if !s.is_finite() || s <= 0.0 {
        bail!("no time measured");
    }
    Ok(s)
}
