//! Decoding speed, in one run: autoreg's native CPU decoder beside llama2.c's plain C
//! forward pass and beside autoreg's libtorch path, for 512 new tokens of a model of the
//! shakespeare-char size (4 layers x 128, 4 heads, vocabulary 65, block 256), with learned
//! and with rotary positions (medians of 5 alternating repetitions).
//!
//! llama2.c is built from `../shared/reference/llama2c/run.c` with `gcc -Ofast
//! -march=native` (one thread) and run greedily on a random checkpoint of the same
//! dimensions written by that folder's `make_model.py` (a SwiGLU MLP of hidden width 341,
//! the multiply-adds of autoreg's 4x GELU MLP), at sequence 512. autoreg's rotary model
//! keeps a rolling cache past its block of 256; its learned-position model rebuilds the
//! cache from the last 3/4 of the context when it is full.
//!
//! `cargo run --release -p autoreg-bench --bin sample_speed`

use anyhow::{Context, Result, bail};
use autoreg_bench::{agreement, median, project_root};
use autoreg_model::{Decoder, Gpt, ModelConfig, Positions, SampleOptions, Sampler};
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
    let llama = Llama2c::build()?;
    println!("decoding {NEW} new tokens, 4 layers x 128, 4 heads, vocabulary {VOCAB}, block {BLOCK}, CPU");
    println!("llama2.c: {}", llama.describe());
    let mut ratios = Vec::new();
    for positions in [Positions::Learned, Positions::Rope] {
        println!("positions = {positions:?}");
        ratios.push(compare(positions, &llama)?);
    }
    println!("batch 1 vs llama2.c: learned {:.2}x, rope {:.2}x", ratios[0], ratios[1]);
    Ok(())
}

/// Prints the timings of both decoders at batches 1 and 8, and llama2.c's at batch 1;
/// returns the native decoder's speed at batch 1 (its default threads) over llama2.c's
/// (one thread, as the reference is built).
fn compare(positions: Positions, llama: &Llama2c) -> Result<f64> {
    let config = ModelConfig { n_layer: 4, n_head: 4, n_embd: 128, block_size: BLOCK, positions, ..Default::default() };
    tch::manual_seed(1337);
    let vs = VarStore::new(Device::Cpu);
    let model = Gpt::new(&vs.root(), &config, VOCAB, Kind::Float);
    let sampler = Sampler::new(&model, Device::Cpu);
    let cores = SampleOptions::default().threads_for(Decoder::Native);
    let ours = [
        (format!("native, {cores} threads"), Decoder::Native, 0),
        ("native, 1 thread".to_string(), Decoder::Native, 1),
        (format!("libtorch, {} threads", tch::get_num_threads()), Decoder::Libtorch, 0),
    ];
    let mut ratio = 0.0;
    for num in [1, 8] {
        let mut secs = vec![Vec::new(); ours.len()];
        let mut reference = [Vec::new(), Vec::new()]; // llama2.c on 1 thread, on every core
        let mut samples = Vec::new();
        // Alternating repetitions, so that a slow spell of the machine hits every path.
        for _ in 0..REPEATS {
            samples.clear();
            for (secs, (_, decoder, threads)) in secs.iter_mut().zip(&ours) {
                let (s, tokens) = time(&sampler, num, NEW, *decoder, *threads)?;
                secs.push(s);
                samples.push(tokens);
            }
            if num == 1 {
                reference[0].push(llama.tokens_per_second(1)?);
                reference[1].push(llama.tokens_per_second(cores)?);
            }
        }
        let rates: Vec<f64> = secs.iter_mut().map(|s| (NEW * num) as f64 / median(s)).collect();
        for ((name, ..), rate) in ours.iter().zip(&rates) {
            println!("  batch {num}: {name:<22} {rate:8.0} tokens/s");
        }
        println!("  batch {num}: native vs libtorch tokens: {}", agreement(&samples[0], &samples[2]));
        if num == 1 {
            let [one, all] = reference.map(|mut r| median(&mut r));
            println!("  batch 1: {:<22} {one:8.0} tokens/s", "llama2.c, 1 thread");
            println!("  batch 1: {:<22} {all:8.0} tokens/s", format!("llama2.c, {cores} threads"));
            ratio = rates[0] / one;
            println!(
                "  batch 1: native over llama2.c: {ratio:.2}x ({cores} threads vs llama2.c's 1), {:.2}x (1 thread each), \
                 {:.2}x ({cores} threads each); native over libtorch {:.2}x",
                rates[1] / one,
                rates[0] / all,
                rates[0] / rates[2]
            );
        }
    }
    if positions == Positions::Rope {
        // The rolling cache: a step costs the same however long the sample grows.
        let block = BLOCK as usize;
        let (mut one, mut four) = (Vec::new(), Vec::new());
        for _ in 0..REPEATS {
            one.push(time(&sampler, 1, block, Decoder::Native, 0)?.0);
            four.push(time(&sampler, 1, 4 * block, Decoder::Native, 0)?.0);
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
    Ok(ratio)
}

/// Seconds to draw `new` tokens for each of `num` samples, and the samples.
fn time(sampler: &Sampler, num: usize, new: usize, decoder: Decoder, threads: usize) -> Result<(f64, Vec<Vec<u32>>)> {
    let options = SampleOptions { num, max_tokens: new, seed: 7, decoder, threads, ..Default::default() };
    let start = Instant::now();
    let tokens = sampler.generate(&[0], None, None, &options, &mut || {})?;
    Ok((start.elapsed().as_secs_f64(), tokens))
}

/// llama2.c's `run`, built in a temporary folder with a random checkpoint of the
/// benchmark's dimensions.
struct Llama2c {
    dir: tempfile::TempDir,
}

impl Llama2c {
    /// Compiles `run.c` and writes the checkpoint.
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
        let gcc = |name: &str, flags: &[&str]| {
            run(Command::new("gcc")
                .args(["-Ofast", "-march=native"])
                .args(flags)
                .arg("-o")
                .arg(out.join(name))
                .arg(source.join("run.c"))
                .arg("-lm"))
        };
        gcc("run", &[])?;
        // llama2.c's own multi-threaded build, for a comparison at equal threads.
        gcc("run-omp", &["-fopenmp"])?;
        run(Command::new("python3")
            .arg(source.join("make_model.py"))
            .arg(out)
            .args(["--dim", "128", "--layers", "4", "--heads", "4", "--vocab", "65", "--seq", "512", "--hidden", "341"])
            .stdout(std::process::Stdio::null()))?;
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn describe(&self) -> String {
        format!(
            "gcc -Ofast -march=native (and -fopenmp for more threads), dim 128, 4 layers, 4 heads, hidden 341, \
             vocabulary {VOCAB}, sequence 512, greedy"
        )
    }

    /// One greedy run of 512 tokens on `threads` threads (1: the plain build, as the
    /// reference prescribes; more: the OpenMP build): llama2.c's own "achieved tok/s".
    fn tokens_per_second(&self, threads: usize) -> Result<f64> {
        let binary = if threads == 1 { "run" } else { "run-omp" };
        let out = Command::new(self.path(binary))
            .env("OMP_NUM_THREADS", threads.to_string())
            .arg(self.path("model.bin"))
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
