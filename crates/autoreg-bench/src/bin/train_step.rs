//! Time per training step of autoreg beside the PyTorch reference
//! (`reference/train_step.py`), same model, batch and optimizer, in one run: once with
//! learned positions (nanoGPT's model) and once with rotary positions (the shipped
//! `configs/shakespeare-char.toml`). Both keep training in their own process while short
//! rounds alternate between them, so that a slow spell of a shared machine hits both;
//! the ratio is the median of the per-round ratios.
//!
//! `cargo run --release -p autoreg-bench --bin train_step [-- ROUNDS STEPS]`

use anyhow::{Context, Result};
use autoreg_bench::{PythonServer, median, shakespeare};
use autoreg_data::Cut;
use autoreg_data::TokenStore;
use autoreg_model::{Gpt, ModelConfig, OptimConfig, Optimizer, Positions};
use autoreg_tokens::{Identity, Modality, Pipeline};
use autoreg_train::Batcher;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, nn::VarStore};

const WARMUP: usize = 20;

fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rounds = args.first().copied().unwrap_or(20);
    let steps = args.get(1).copied().unwrap_or(50);
    let (path, tok, doc) = shakespeare()?;
    let mut store = TokenStore::new();
    store.push(&doc);
    println!(
        "train step: 4 layers x 128, block 64, batch 12, AdamW + clipping, CPU, {} threads; \
         {rounds} rounds of {steps} steps each",
        tch::get_num_threads()
    );
    let mut summary = Vec::new();
    for positions in [Positions::Learned, Positions::Rope] {
        summary.push((positions, compare(positions, rounds, steps, &path, &tok, &store)?));
    }
    println!("medians (ratio below 1: autoreg is faster):");
    for (positions, [a, p, ratio]) in summary {
        let name = format!("{positions:?}");
        println!("  {name:<8} autoreg {a:7.3} ms/step   PyTorch {p:7.3} ms/step   ratio {ratio:.3}");
    }
    Ok(())
}

/// Medians of autoreg's ms/step, PyTorch's ms/step and their per-round ratio.
fn compare(
    positions: Positions,
    rounds: usize,
    steps: usize,
    path: &Path,
    tok: &dyn Modality,
    store: &TokenStore,
) -> Result<[f64; 3]> {
    // nanoGPT's shakespeare-char CPU model.
    let config = ModelConfig { n_layer: 4, n_head: 4, n_embd: 128, block_size: 64, positions, ..Default::default() };
    tch::manual_seed(1337);
    let vs = VarStore::new(Device::Cpu);
    let model = Gpt::new(&vs.root(), &config, tok.vocab_size() as i64, Kind::Float);
    let mut opt =
        Optimizer::new(&vs, OptimConfig { beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, muon: None });
    let identity = Identity { vocab_size: tok.vocab_size() };
    let pipeline = Pipeline::new(tok, &identity);
    let batches = Batcher::new(store.clone(), &[], config.block_size, Cut::Stream, pipeline, Device::Cpu, "training")?;
    let mut rng = StdRng::seed_from_u64(1337);
    let mut step = || {
        let (x, y) = batches.random(12, &mut rng, None); // (12, 64) each
        let loss = model.loss(&x, &y, true);
        let mut grads = opt.gradients(&loss);
        Optimizer::clip_grad_norm(&mut grads, 1.0);
        opt.step(&grads, 1e-3).map_err(anyhow::Error::msg)?;
        Ok::<f64, anyhow::Error>(loss.double_value(&[]))
    };
    let mut py_args = vec![path.display().to_string(), "--serve".to_owned()];
    if positions == Positions::Rope {
        py_args.push("--rope".into());
    }
    let mut reference = PythonServer::spawn("train_step.py", &py_args)?;
    let mut py_round = |n: usize| -> Result<(f64, String)> {
        let out = reference.ask(&n.to_string())?;
        let ms = out
            .split_whitespace()
            .skip_while(|w| *w != "ms_per_step")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("unexpected reference output: {out}"))?;
        Ok((ms, out))
    };

    println!("positions = {positions:?}");
    for _ in 0..WARMUP {
        step()?;
    }
    py_round(WARMUP)?;
    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let start = Instant::now();
        let mut loss = f64::NAN;
        for _ in 0..steps {
            loss = step()?;
        }
        let ms = 1e3 * start.elapsed().as_secs_f64() / steps as f64;
        let (py_ms, out) = py_round(steps)?;
        println!(
            "  round {round:2}: autoreg {ms:7.3} ms/step (loss {loss:.3})   PyTorch {py_ms:7.3} ms/step   ({out})"
        );
        ours.push(ms);
        theirs.push(py_ms);
        ratios.push(ms / py_ms);
    }
    Ok([median(&mut ours), median(&mut theirs), median(&mut ratios)])
}
