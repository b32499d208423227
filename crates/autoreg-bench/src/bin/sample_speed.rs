//! Decoding speed, in one run: autoreg's native CPU decoder, with f32 and with int8
//! weights, beside llama2.c's `run.c` (f32) and `runq.c` (int8) and beside autoreg's
//! libtorch path, for 512 new tokens of a model of the shakespeare-char size (4 layers x
//! 128, 4 heads, vocabulary 65, block 256), with learned and with rotary positions.
//!
//! At batch 1 every figure is the median of 5 fresh processes, alternating between the
//! paths, and the spread of the 5 ((max - min) / median) is printed beside it: a
//! decoder's speed can change from one process to the next (where its buffers land),
//! and that is what a user meets.
//!
//! llama2.c is built from `../shared/reference/llama2c/` with `gcc -Ofast
//! -march=native` (one thread; `-fopenmp` for more) and run greedily on a random
//! checkpoint of the same dimensions written by that folder's `make_model.py --q8`, at
//! sequence 512. Its SwiGLU MLP has hidden width 320, a multiple of runq.c's groups of
//! 64: 6% fewer multiply-adds than autoreg's 4x GELU MLP. autoreg's rotary model keeps a
//! rolling cache past its block of 256; its learned-position model rebuilds the cache
//! from the last 3/4 of the context when it is full.
//!
//! `cargo run --release -p autoreg-bench --bin sample_speed`

use anyhow::{Context, Result, bail};
use autoreg_bench::{agreement, median, project_root};
use autoreg_model::{Decoder, Gpt, ModelConfig, Positions, SampleOptions, Sampler, Weights};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;
use tch::{Device, Kind, nn::VarStore};

/// Timed runs of each kind; the median counts.
const REPEATS: usize = 5;
/// New tokens per sample.
const NEW: usize = 512;
/// The model's context.
const BLOCK: i64 = 256;
/// The shakespeare-char vocabulary.
const VOCAB: i64 = 65;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, positions, decoder, weights, threads] = args.as_slice()
        && flag == "--child"
    {
        // One timing in this fresh process: tokens per second on its last line.
        let positions = if positions == "rope" { Positions::Rope } else { Positions::Learned };
        let (_vs, model) = model(positions);
        let sampler = Sampler::new(&model, Device::Cpu);
        let decoder = decoder.parse().map_err(anyhow::Error::msg)?;
        let weights = weights.parse().map_err(anyhow::Error::msg)?;
        let threads = threads.parse()?;
        time(&sampler, 1, 16, decoder, weights, threads)?; // copies the weights
        let (secs, _) = time(&sampler, 1, NEW, decoder, weights, threads)?;
        println!("{}", NEW as f64 / secs);
        return Ok(());
    }
    let llama = Llama2c::build()?;
    println!("decoding {NEW} new tokens, 4 layers x 128, 4 heads, vocabulary {VOCAB}, block {BLOCK}, CPU");
    println!("llama2.c: {}", llama.describe());
    for positions in [Positions::Learned, Positions::Rope] {
        println!("positions = {positions:?}");
        compare(positions, &llama)?;
    }
    Ok(())
}

/// The benchmark's model, the same weights in every process.
fn model(positions: Positions) -> (VarStore, Gpt) {
    let config = ModelConfig { n_layer: 4, n_head: 4, n_embd: 128, block_size: BLOCK, positions, ..Default::default() };
    tch::manual_seed(1337);
    let vs = VarStore::new(Device::Cpu);
    let model = Gpt::new(&vs.root(), &config, VOCAB, Kind::Float);
    (vs, model)
}

/// A path's tokens per second over the repetitions: the median and the spread.
fn summary(rates: &mut [f64]) -> (f64, f64) {
    let (lo, hi) = rates.iter().fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
    let mid = median(rates);
    (mid, (hi - lo) / mid)
}

/// Prints batch 1 (fresh processes, beside llama2.c) and batch 8 (in this process),
/// and the ratios thread for thread.
fn compare(positions: Positions, llama: &Llama2c) -> Result<()> {
    let cores = SampleOptions::default().threads_for(Decoder::Native);
    let name = if positions == Positions::Rope { "rope" } else { "learned" };
    let ours = [
        ("native f32, 1 thread".to_string(), Decoder::Native, Weights::F32, 1),
        (format!("native f32, {cores} threads"), Decoder::Native, Weights::F32, cores),
        ("native int8, 1 thread".to_string(), Decoder::Native, Weights::Int8, 1),
        (format!("native int8, {cores} threads"), Decoder::Native, Weights::Int8, cores),
        (format!("libtorch, {} threads", tch::get_num_threads()), Decoder::Libtorch, Weights::F32, 0),
    ];
    let references = [
        ("llama2.c run.c, 1 thread".to_string(), "run", 1),
        (format!("llama2.c run.c, {cores} threads"), "run-omp", cores),
        ("llama2.c runq.c, 1 thread".to_string(), "runq", 1),
        (format!("llama2.c runq.c, {cores} threads"), "runq-omp", cores),
    ];
    let mut rates = vec![Vec::new(); ours.len() + references.len()];
    // Alternating repetitions, so that a slow spell of the machine hits every path.
    for _ in 0..REPEATS {
        for (rates, (_, decoder, weights, threads)) in rates.iter_mut().zip(&ours) {
            let exe = std::env::current_exe()?;
            let out = autoreg_bench::last_line(
                Command::new(exe).args([
                    "--child",
                    name,
                    &decoder.to_string(),
                    &weights.to_string(),
                    &threads.to_string(),
                ]),
                "sample_speed --child",
            )?;
            rates.push(out.trim().parse::<f64>().with_context(|| format!("a child printed {out:?}"))?);
        }
        for (rates, (_, binary, threads)) in rates[ours.len()..].iter_mut().zip(&references) {
            rates.push(llama.tokens_per_second(binary, *threads)?);
        }
    }
    let names = ours.iter().map(|o| o.0.clone()).chain(references.iter().map(|r| r.0.clone()));
    let mut medians = Vec::new();
    for (name, rates) in names.zip(rates.iter_mut()) {
        let (mid, spread) = summary(rates);
        println!("  batch 1: {name:<28} {mid:8.0} tokens/s  (spread over {REPEATS} processes {:4.1}%)", 100.0 * spread);
        medians.push(mid);
    }
    let [f1, f2, q1, q2, torch, run1, run2, runq1, runq2] = medians[..] else { unreachable!("nine paths") };
    println!(
        "  batch 1, thread for thread: f32 over run.c {:.2}x (1) {:.2}x ({cores}); int8 over run.c {:.2}x (1) {:.2}x \
         ({cores}); int8 over runq.c {:.2}x (1) {:.2}x ({cores}); int8 over f32 {:.2}x (1); native f32 over libtorch \
         {:.2}x",
        f1 / run1,
        f2 / run2,
        q1 / run1,
        q2 / run2,
        q1 / runq1,
        q2 / runq2,
        q1 / f1,
        f2 / torch
    );
    // Batch 8, in this process.
    let (_vs, model) = model(positions);
    let sampler = Sampler::new(&model, Device::Cpu);
    let mut secs = vec![Vec::new(); ours.len()];
    let mut samples = Vec::new();
    for _ in 0..REPEATS {
        samples.clear();
        for (secs, (_, decoder, weights, threads)) in secs.iter_mut().zip(&ours) {
            let (s, tokens) = time(&sampler, 8, NEW, *decoder, *weights, *threads)?;
            secs.push(s);
            samples.push(tokens);
        }
    }
    for ((name, ..), secs) in ours.iter().zip(secs.iter_mut()) {
        println!("  batch 8: {name:<28} {:8.0} tokens/s", (NEW * 8) as f64 / median(secs));
    }
    println!("  batch 8: native f32 vs libtorch tokens: {}", agreement(&samples[0], &samples[4]));
    if positions == Positions::Rope {
        // The rolling cache: a step costs the same however long the sample grows (one
        // thread: two are the noisier on a 2-core machine).
        let block = BLOCK as usize;
        let (mut one, mut four) = (Vec::new(), Vec::new());
        for _ in 0..REPEATS {
            one.push(time(&sampler, 1, block, Decoder::Native, Weights::F32, 1)?.0);
            four.push(time(&sampler, 1, 4 * block, Decoder::Native, Weights::F32, 1)?.0);
        }
        let (one, four) = (median(&mut one), median(&mut four));
        println!(
            "  batch 1: {block} tokens {:.1} ms, {} tokens {:.1} ms: {:.2}x the time for 4x the tokens",
            one * 1e3,
            4 * block,
            four * 1e3,
            four / one
        );
    }
    Ok(())
}

/// Seconds to draw `new` tokens for each of `num` samples, and the samples.
fn time(
    sampler: &Sampler,
    num: usize,
    new: usize,
    decoder: Decoder,
    weights: Weights,
    threads: usize,
) -> Result<(f64, Vec<Vec<u32>>)> {
    let options = SampleOptions { num, max_tokens: new, seed: 7, decoder, weights, threads, ..Default::default() };
    let start = Instant::now();
    let tokens = sampler.generate(&[0], None, None, &options, &mut || {})?;
    Ok((start.elapsed().as_secs_f64(), tokens))
}

/// llama2.c's `run` and `runq`, built in a temporary folder with a random checkpoint
/// of the benchmark's dimensions, in f32 and int8.
struct Llama2c {
    dir: tempfile::TempDir,
}

impl Llama2c {
    /// Compiles `run.c` and `runq.c` and writes the checkpoints.
    fn build() -> Result<Self> {
        let source = project_root().join("../shared/reference/llama2c");
        if !source.join("run.c").is_file() {
            bail!("{} has no run.c: the llama2.c reference is needed beside the checkout", source.display());
        }
        let dir = tempfile::tempdir()?;
        let out = dir.path();
        let run = |cmd: &mut Command| -> Result<()> {
            let status = cmd.status().with_context(|| format!("cannot run {cmd:?}"))?;
            if !status.success() {
                bail!("{cmd:?} failed: {status}");
            }
            Ok(())
        };
        let gcc = |name: &str, file: &str, flags: &[&str]| {
            run(Command::new("gcc")
                .args(["-Ofast", "-march=native"])
                .args(flags)
                .arg("-o")
                .arg(out.join(name))
                .arg(source.join(file))
                .arg("-lm"))
        };
        // llama2.c's own multi-threaded builds, for comparisons at equal threads.
        for (name, file) in [("run", "run.c"), ("runq", "runq.c")] {
            gcc(name, file, &[])?;
            gcc(&format!("{name}-omp"), file, &["-fopenmp"])?;
        }
        run(Command::new("python3")
            .arg(source.join("make_model.py"))
            .arg(out)
            .args(["--dim", "128", "--layers", "4", "--heads", "4", "--vocab", "65", "--seq", "512", "--hidden", "320"])
            .arg("--q8")
            .stdout(std::process::Stdio::null()))?;
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn describe(&self) -> String {
        format!(
            "gcc -Ofast -march=native (and -fopenmp for more threads), dim 128, 4 layers, 4 heads, hidden 320, \
             vocabulary {VOCAB}, sequence 512, greedy; runq.c: Q8_0 in groups of 64"
        )
    }

    /// One greedy run of 512 tokens of `binary` (`run`, `runq`, or their `-omp`
    /// builds) on `threads` threads: llama2.c's own "achieved tok/s".
    fn tokens_per_second(&self, binary: &str, threads: usize) -> Result<f64> {
        let checkpoint = if binary.starts_with("runq") { "model-q8.bin" } else { "model.bin" };
        let out = Command::new(self.path(binary))
            .env("OMP_NUM_THREADS", threads.to_string())
            .arg(self.path(checkpoint))
            .arg("-z")
            .arg(self.path("tok.bin"))
            .args(["-n", "512", "-t", "0"])
            .output()
            .context("cannot run llama2.c")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        parse_rate(&stderr).with_context(|| format!("llama2.c printed no \"achieved tok/s\": {stderr}"))
    }
}

/// The figure of llama2.c's `achieved tok/s: N` line.
fn parse_rate(stderr: &str) -> Option<f64> {
    stderr.lines().find_map(|l| l.strip_prefix("achieved tok/s:")).and_then(|v| v.trim().parse().ok())
}
