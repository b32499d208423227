//! Sampling speed with the KV cache beside recomputing the whole context, for 512 new
//! tokens at block_size 256, in one run, with learned and with rotary positions
//! (medians of 3 alternating repetitions).
//!
//! `cargo run --release -p autoreg-bench --bin sample_speed`

use anyhow::Result;
use autoreg_bench::median;
use autoreg_model::{Gpt, ModelConfig, Positions, SampleOptions, Sampler};
use std::time::Instant;
use tch::{Device, Kind, nn::VarStore};

/// Timed runs of each kind; the median counts.
const REPEATS: usize = 3;

fn main() -> Result<()> {
    println!("sampling 512 new tokens, 4 layers x 128, block 256, CPU, {} threads", tch::get_num_threads());
    for positions in [Positions::Learned, Positions::Rope] {
        println!("positions = {positions:?}");
        compare(positions)?;
    }
    Ok(())
}

/// Prints both timings and whether they sampled the same tokens, for batches 1 and 8.
fn compare(positions: Positions) -> Result<()> {
    let config = ModelConfig { n_layer: 4, n_head: 4, n_embd: 128, block_size: 256, positions, ..Default::default() };
    tch::manual_seed(1337);
    let vs = VarStore::new(Device::Cpu);
    let model = Gpt::new(&vs.root(), &config, 68, Kind::Float);
    let sampler = Sampler::new(&model, Device::Cpu);
    for num in [1, 8] {
        let (mut secs, mut tokens) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
        // Alternating repetitions, so that a slow spell of the machine hits both.
        for _ in 0..REPEATS {
            for (i, kv_cache) in [true, false].into_iter().enumerate() {
                let options = SampleOptions { num, max_tokens: 512, kv_cache, seed: 7, ..Default::default() };
                let start = Instant::now();
                tokens[i] = sampler.generate(&[0], None, &options, &mut || {})?;
                secs[i].push(start.elapsed().as_secs_f64());
            }
        }
        let [cached, full] = secs.map(|mut s| median(&mut s));
        for (what, s) in [("KV cache", cached), ("recompute the context", full)] {
            println!("  batch {num}: {what:<22} {s:6.3} s  {:8.0} tokens/s", (512 * num) as f64 / s);
        }
        // Both see the same context until it is full; then the cache keeps 3/4 of it.
        let same = tokens[0].iter().zip(&tokens[1]).all(|(a, b)| a[..256] == b[..256]);
        println!(
            "  batch {num}: KV cache is {:.1}x faster; same tokens while the context fits: {}",
            full / cached,
            if same { "yes" } else { "NO" }
        );
    }
    Ok(())
}
