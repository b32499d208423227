//! Sampling speed with the KV cache beside recomputing the whole context, for 512 new
//! tokens at block_size 256, in one run.
//!
//! `cargo run --release -p autoreg-bench --bin sample_speed`

use anyhow::Result;
use autoreg_model::{Gpt, ModelConfig, SampleOptions, Sampler};
use std::time::Instant;
use tch::{Device, Kind, nn::VarStore};

fn main() -> Result<()> {
    let config = ModelConfig { n_layer: 4, n_head: 4, n_embd: 128, block_size: 256, ..Default::default() };
    tch::manual_seed(1337);
    let vs = VarStore::new(Device::Cpu);
    let model = Gpt::new(&vs.root(), &config, 68, Kind::Float);
    let sampler = Sampler::new(&model, Device::Cpu);
    println!("sampling 512 new tokens, 4 layers x 128, block 256, CPU, {} threads", tch::get_num_threads());
    for num in [1, 8] {
        let mut results = Vec::new();
        for kv_cache in [true, false] {
            let options = SampleOptions { num, max_tokens: 512, kv_cache, seed: 7, ..Default::default() };
            let start = Instant::now();
            let out = sampler.generate(&[0], None, &options, &mut || {})?;
            let secs = start.elapsed().as_secs_f64();
            let rate = (512 * num) as f64 / secs;
            println!(
                "  batch {num}: {:<22} {secs:6.3} s  {rate:8.0} tokens/s",
                if kv_cache { "KV cache" } else { "recompute the context" }
            );
            results.push((secs, out));
        }
        let (cached, full) = (&results[0], &results[1]);
        // Both see the same context until it is full; then the cache keeps 3/4 of it.
        let same = cached.1.iter().zip(&full.1).all(|(a, b)| a[..256] == b[..256]);
        println!(
            "  batch {num}: KV cache is {:.1}x faster; same tokens while the context fits: {}",
            full.0 / cached.0,
            if same { "yes" } else { "NO" }
        );
    }
    Ok(())
}
