//! Image sampling speed: 28x28 images (784 pixel tokens after `BOS Class_k`) from a
//! model of `configs/mnist-binary.toml`'s shape (read from the config; random weights),
//! with the KV cache beside recomputing the whole context, batch 1 and 8, on the native
//! CPU decoder.
//!
//! `cargo run --release -p autoreg-bench --bin pixels_speed [-- --threads T]` (default 1)

use anyhow::{Context, Result, bail};
use autoreg::Config;
use autoreg_bench::project_root;
use autoreg_model::{Gpt, SampleOptions, Sampler};
use std::time::Instant;
use tch::{Device, Kind, nn::VarStore};

/// Pixels of a 28x28 image, one token each.
const PIXELS: usize = 28 * 28;
/// Binary levels (the config's `levels = 2`), ten classes, BOS, EOS, PAD.
const VOCAB: i64 = 2 + 10 + 3;

fn main() -> Result<()> {
    let mut threads = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().context("--threads needs a value")?.parse()?,
            _ => bail!("unknown argument {a}; usage: pixels_speed [--threads T]"),
        }
    }
    let config = Config::load(&project_root().join("configs/mnist-binary.toml"), &[])?.model;
    tch::manual_seed(1337);
    let vs = VarStore::new(Device::Cpu);
    let model = Gpt::new(&vs.root(), &config, VOCAB, Kind::Float);
    let sampler = Sampler::new(&model, Device::Cpu);
    // BOS then Class_3, as `autoreg sample --class 3` starts.
    let prompt = [VOCAB as u32 - 3, 2 + 3];
    println!(
        "sampling 28x28 images ({PIXELS} tokens each), {} layers x {}, block {}, CPU, {threads} thread(s)",
        config.n_layer, config.n_embd, config.block_size,
    );
    println!("{:>7} {:>22} {:>22} {:>9} {:>6}", "batch", "KV cache", "recompute the context", "speed-up", "same");
    for num in [1, 8] {
        let mut results = Vec::new();
        for kv_cache in [true, false] {
            let options = SampleOptions { num, max_tokens: PIXELS, kv_cache, seed: 7, threads, ..Default::default() };
            let start = Instant::now();
            let out = sampler.generate(&prompt, None, None, &options, &mut || {})?;
            results.push((start.elapsed().as_secs_f64(), out));
        }
        let (cached, full) = (&results[0], &results[1]);
        let cell = |secs: f64| format!("{:.2} img/s ({secs:.1} s)", num as f64 / secs);
        // The whole image fits the context, so both ways must draw the same pixels.
        let same = cached.1 == full.1 && cached.1.iter().all(|s| s.len() == prompt.len() + PIXELS);
        println!(
            "{num:>7} {:>22} {:>22} {:>8.1}x {:>6}",
            cell(cached.0),
            cell(full.0),
            full.0 / cached.0,
            if same { "yes" } else { "NO" }
        );
    }
    Ok(())
}
