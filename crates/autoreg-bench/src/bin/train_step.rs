//! Time per training step of autoreg beside the PyTorch reference
//! (`reference/train_step.py`), same model, batch and optimizer, in one run.
//!
//! `cargo run --release -p autoreg-bench --bin train_step [-- ROUNDS STEPS]`

use anyhow::{Context, Result};
use autoreg_bench::{median, run_python, shakespeare};
use autoreg_model::{AdamW, AdamWConfig, Gpt, ModelConfig};
use autoreg_tokens::{TokenStore, Tokenizer};
use autoreg_train::{Batcher, Windows};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;
use tch::{Device, Kind, nn::VarStore};

const WARMUP: usize = 20;

fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rounds = args.first().copied().unwrap_or(3);
    let steps = args.get(1).copied().unwrap_or(200);
    let (path, tok, doc) = shakespeare()?;
    let mut store = TokenStore::new();
    store.push(&doc);

    // nanoGPT's shakespeare-char CPU model.
    let config = ModelConfig { n_layer: 4, n_head: 4, n_embd: 128, block_size: 64, ..Default::default() };
    tch::manual_seed(1337);
    let vs = VarStore::new(Device::Cpu);
    let model = Gpt::new(&vs.root(), &config, tok.vocab_size() as i64, Kind::Float);
    let mut opt = AdamW::new(&vs, AdamWConfig { beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1 });
    let batches = Batcher::new(&store, config.block_size, Windows::Stream, &tok, Device::Cpu, "training")?;
    let mut rng = StdRng::seed_from_u64(1337);
    let mut step = || {
        let (x, y) = batches.random(12, &mut rng, None); // (12, 64) each
        let loss = model.loss(&x, &y, true);
        let mut grads = opt.gradients(&loss);
        AdamW::clip_grad_norm(&mut grads, 1.0);
        opt.step(&grads, 1e-3);
        loss.double_value(&[])
    };

    println!(
        "train step: 4 layers x 128, block 64, batch 12, AdamW + clipping, CPU, {} threads",
        tch::get_num_threads()
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let py_args = [path.display().to_string(), WARMUP.to_string(), steps.to_string()];
    for round in 0..rounds {
        for _ in 0..WARMUP {
            step();
        }
        let start = Instant::now();
        let loss = (0..steps).map(|_| step()).last().unwrap_or_default();
        let ms = 1e3 * start.elapsed().as_secs_f64() / steps as f64;
        let out = run_python("train_step.py", &py_args)?;
        let py_ms: f64 = out
            .split_whitespace()
            .skip_while(|w| *w != "ms_per_step")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("unexpected reference output: {out}"))?;
        println!(
            "  round {round}: autoreg {ms:7.3} ms/step (loss {loss:.3})   PyTorch {py_ms:7.3} ms/step   ({})",
            out.trim()
        );
        ours.push(ms);
        theirs.push(py_ms);
    }
    let (a, p) = (median(&mut ours), median(&mut theirs));
    println!("median over {rounds} rounds of {steps} steps:");
    println!("  autoreg  {a:7.3} ms/step");
    println!("  PyTorch  {p:7.3} ms/step");
    println!("  ratio    autoreg / PyTorch = {:.3} (below 1: autoreg is faster)", a / p);
    Ok(())
}
