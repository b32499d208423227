//! Fine-tuning a GPT-2: autoreg beside PyTorch (`reference/finetune_step.py`,
//! transformers' `GPT2LMHeadModel` with the same optimizer), measured in the same run,
//! each in a process of its own so that each peak memory is its own.
//!
//! 1. The tiny GPT-2 of the tests (`tests/python/make_gpt2.py`: 2 layers, 64 wide, 400
//!    ids) brought in with `autoreg import hf` and fine-tuned on tiny shakespeare for
//!    `--steps` steps with `autoreg train --init-from`: its validation loss before and
//!    after; then ms per training step (block 64, batch 8) beside PyTorch's on the same
//!    folder.
//! 2. GPT-2 small's shape (12 layers, 768 wide, 12 heads, vocabulary 50,257, 1,024
//!    positions) with random weights: ms per training step at block 256, batch 1, and
//!    greedy decoding at batch 1 (autoreg's native decoder, transformers' `generate`),
//!    with the peak resident memory of each process.
//!
//! `cargo run --release -p autoreg-bench --bin finetune_speed [-- --steps N]`

use anyhow::{Context, Result, bail};
use autoreg::cli::{ImportHfArgs, ModelArgs, TrainArgs, Which};
use autoreg::commands;
use autoreg::run::load_run;
use autoreg_bench::{last_line, run_python};
use autoreg_model::{Gpt, Mlp, ModelConfig, NATIVE_THREADS, NativeModel, OptimConfig, Optimizer, Readout, Weights};
use autoreg_train::{TrainConfig, build_model};
use std::process::Command;
use std::time::Instant;
use tch::{Kind, Tensor};

/// One side's measurement, as both print it.
struct Measured {
    ms_per_step: f64,
    decode_tokens_per_s: f64,
    peak_rss_mb: f64,
    line: String,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let steps: usize = match args.iter().position(|a| a == "--steps") {
        Some(i) => args.get(i + 1).and_then(|s| s.parse().ok()).context("--steps N")?,
        None => 200,
    };
    let dir = tempfile::tempdir()?;
    std::env::set_current_dir(dir.path())?;
    let text = autoreg_data::find_data("tinyshakespeare/input.txt")?;

    println!("1. the tiny GPT-2 of the tests, imported and fine-tuned for {steps} steps on tiny shakespeare");
    let folder = dir.path().join("gpt2-tiny");
    run_python("tests/python/make_gpt2.py", [folder.as_os_str(), text.as_os_str()])?;
    let run = commands::import_hf(&ImportHfArgs { dir: folder.clone(), name: Some("gpt2-tiny".into()) })?;
    let config = dir.path().join("finetune.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"finetuned\"\n[data]\npath = {:?}\nsplit = \"tail\"\n[train]\nmax_steps = {steps}\nbatch_size = 8\n\
             lr = 1e-3\nmin_lr = 1e-4\nwarmup_steps = 10\neval_interval = {}\neval_batches = 20\n",
            text.display().to_string(),
            (steps / 4).max(1)
        ),
    )?;
    let summary = commands::train(&TrainArgs {
        config: Some(config),
        set: Vec::new(),
        resume: None,
        nproc: 1,
        init_from: Some(run.path().to_path_buf()),
    })?;
    let metrics = std::fs::read_to_string(dir.path().join("runs/finetuned/metrics.jsonl"))?;
    let first: serde_json::Value = serde_json::from_str(metrics.lines().next().context("no metrics")?)?;
    println!(
        "   validation loss {:.4} at step 0, {:.4} at step {} ({:.1} s)",
        first["val_loss"].as_f64().unwrap_or(f64::NAN),
        summary.val_loss,
        summary.step,
        summary.elapsed_s
    );
    let run_dir = run.path().display().to_string();
    let ours = measure_autoreg(&["--run", &run_dir, "64", "8", "5", "50", "64"])?;
    let folder_arg = folder.display().to_string();
    let theirs = measure_pytorch(&["--folder", &folder_arg, "64", "8", "5", "50", "64"])?;
    report(&ours, &theirs);

    println!("2. GPT-2 small's shape, random weights: training at block 256, batch 1; decoding at batch 1");
    let shape = "12,768,12,50257,1024";
    let ours = measure_autoreg(&["--shape", shape, "256", "1", "1", "3", "32"])?;
    let theirs = measure_pytorch(&["--shape", shape, "256", "1", "1", "3", "32"])?;
    report(&ours, &theirs);
    Ok(())
}

/// Prints both sides and their ratios.
fn report(ours: &Measured, theirs: &Measured) {
    println!("   autoreg: {}", ours.line);
    println!("   PyTorch: {}", theirs.line);
    println!(
        "   training step time autoreg/PyTorch {:.2} (below 1: autoreg is faster); decoding speed autoreg/PyTorch \
         {:.2} (above 1: autoreg is faster); peak memory autoreg/PyTorch {:.2}",
        ours.ms_per_step / theirs.ms_per_step,
        ours.decode_tokens_per_s / theirs.decode_tokens_per_s,
        ours.peak_rss_mb / theirs.peak_rss_mb
    );
}

/// Runs this benchmark as a child measuring autoreg with `args`.
fn measure_autoreg(args: &[&str]) -> Result<Measured> {
    parse(&last_line(Command::new(std::env::current_exe()?).arg("--child").args(args), "autoreg")?)
}

/// Runs the PyTorch reference with `args`.
fn measure_pytorch(args: &[&str]) -> Result<Measured> {
    parse(&run_python("crates/autoreg-bench/reference/finetune_step.py", args)?)
}

/// The measurement a child printed as `ms_per_step X decode_tokens_per_s Y peak_rss_mb Z ...`.
fn parse(line: &str) -> Result<Measured> {
    let value = |key: &str| -> Result<f64> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == key).with_context(|| format!("no {key} in: {line}"))?;
        words.get(at + 1).and_then(|v| v.parse().ok()).with_context(|| format!("{key} in: {line}"))
    };
    Ok(Measured {
        ms_per_step: value("ms_per_step")?,
        decode_tokens_per_s: value("decode_tokens_per_s")?,
        peak_rss_mb: value("peak_rss_mb")?,
        line: line.to_owned(),
    })
}

/// The child: `(--run DIR | --shape L,C,H,V,T) BLOCK BATCH WARMUP STEPS DECODE`, the
/// arguments of the reference; prints the same line.
fn child(args: &[String]) -> Result<()> {
    let [kind, source, block, batch, warmup, steps, decode] = args else {
        bail!("--child (--run DIR | --shape L,C,H,V,T) BLOCK BATCH WARMUP STEPS DECODE");
    };
    let number = |s: &String| s.parse::<i64>().with_context(|| format!("not a number: {s}"));
    let (block, batch, warmup, steps, decode) =
        (number(block)?, number(batch)?, number(warmup)?, number(steps)?, number(decode)?);
    let (vs, model) = match kind.as_str() {
        "--run" => {
            let run = load_run(&ModelArgs { run_dir: source.into(), checkpoint: Which::Best, device: None })?;
            (run.vs, run.model)
        }
        _ => {
            let v: Vec<i64> = source.split(',').map(|s| s.parse()).collect::<Result<_, _>>()?;
            let [n_layer, n_embd, n_head, vocab, block_size] = v[..] else { bail!("--shape L,C,H,V,T") };
            let config = ModelConfig {
                n_layer,
                n_embd,
                n_head,
                block_size,
                bias: true,
                mlp: Mlp::GeluTanh,
                ..Default::default()
            };
            build_model(&config, &TrainConfig::default(), Default::default(), vocab as usize)?
        }
    };
    let mut opt =
        Optimizer::new(&vs, OptimConfig { beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, muon: None });
    let vocab = model.vocab_size();
    let mut step = || -> Result<()> {
        let ids = Tensor::randint(vocab, [batch, block + 1], (Kind::Int64, tch::Device::Cpu));
        let (x, y) = (ids.narrow(1, 0, block).contiguous(), ids.narrow(1, 1, block).contiguous()); // (B, T) each
        let loss = model.loss(&x, &y, true);
        let mut grads = opt.gradients(&loss);
        Optimizer::clip_grad_norm(&mut grads, 1.0);
        opt.step(&grads, 3e-4).map_err(anyhow::Error::msg)
    };
    for _ in 0..warmup {
        step()?;
    }
    let start = Instant::now();
    for _ in 0..steps {
        step()?;
    }
    let ms = 1e3 * start.elapsed().as_secs_f64() / steps as f64;
    let tokens_per_s = decode_speed(&model, decode as usize)?;
    let rss = peak_rss_mb().context("cannot read VmHWM in /proc/self/status")?;
    println!(
        "ms_per_step {ms:.2} decode_tokens_per_s {tokens_per_s:.2} peak_rss_mb {rss:.0} threads {} (native decoder {})",
        tch::get_num_threads(),
        rayon::current_num_threads().min(NATIVE_THREADS)
    );
    Ok(())
}

/// Greedy decoding of `n` tokens at batch 1 by the native decoder, after 4 to warm up.
fn decode_speed(model: &Gpt, n: usize) -> Result<f64> {
    let native = NativeModel::new(model, Weights::F32)?;
    let run = |n: usize| -> f64 {
        let mut cache = native.new_cache(1);
        let mut token = 0u32;
        let start = Instant::now();
        for _ in 0..n {
            let logits = native.forward(&[token], 1, &mut cache, NATIVE_THREADS, Readout::Last);
            token = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i as u32);
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    run(4);
    Ok(run(n))
}

/// The peak resident memory of this process (`VmHWM`), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
