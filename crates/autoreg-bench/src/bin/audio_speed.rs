//! Real-time factor of audio generation: seconds of 8 kHz audio generated per second of
//! wall time, for a model of `configs/spoken-digits.toml`'s shape (random weights: the
//! cost does not depend on them), with the KV cache at batch 1 and batch 8, and without
//! the cache for comparison. One libtorch thread (`tch::set_num_threads(1)`) on the CPU,
//! so that it matches the `--set train.threads=1` runs and the numbers do not depend on
//! what else the machine runs as much.
//!
//! `cargo run --release -p autoreg-bench --bin audio_speed [-- SECONDS [NO_CACHE_SECONDS]]`
//!
//! SECONDS (default 0.5, the config's `sample.max_tokens`) is the length generated with
//! the cache; NO_CACHE_SECONDS (default 0.05) the shorter length generated both with and
//! without it, because recomputing the context is slow (at batch 8 and 0.1 s, minutes).

use anyhow::{Context, Result, bail};
use autoreg::audio::AudioTokenizer;
use autoreg::{Config, ModalityConfig};
use autoreg_bench::project_root;
use autoreg_model::{Gpt, SampleOptions, Sampler};
use autoreg_tokens::{Identity, Modality, Pipeline};
use std::time::Instant;
use tch::{Device, Kind, nn::VarStore};

/// One timed generation.
struct Timing {
    secs: f64,
    samples: Vec<Vec<u32>>,
}

fn main() -> Result<()> {
    let args: Vec<f64> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let seconds = args.first().copied().unwrap_or(0.5);
    let no_cache_seconds = args.get(1).copied().unwrap_or(0.05);
    tch::set_num_threads(1);

    let name = "configs/spoken-digits.toml";
    let path = project_root().join(name);
    let config = Config::load(&path, &[])?;
    let ModalityConfig::Audio(audio) = &config.tokenizer.modality else {
        bail!("{} is not an audio config", path.display());
    };
    let rate = f64::from(audio.sample_rate);
    // The ten digit classes of FSDD, as the trained run learns them.
    let classes = (0..10).map(|d| d.to_string()).collect();
    let tok = AudioTokenizer::new(audio.clone(), classes).context("the config's tokenizer")?;
    let prompt = Pipeline { base: &tok, ids: &Identity { vocab_size: tok.vocab_size() } }.class_prompt(3)?;
    let m = &config.model;
    tch::manual_seed(1337);
    let vs = VarStore::new(Device::Cpu);
    let model = Gpt::new(&vs.root(), m, tok.vocab_size() as i64, Kind::Float);
    let sampler = Sampler::new(&model, Device::Cpu);
    println!(
        "audio generation, {}: {} layers x {}, {} heads, block {} ({:.0} ms), vocabulary {}, {} Hz; CPU, {} thread(s)",
        name,
        m.n_layer,
        m.n_embd,
        m.n_head,
        m.block_size,
        m.block_size as f64 / rate * 1e3,
        tok.vocab_size(),
        audio.sample_rate,
        tch::get_num_threads()
    );
    println!(
        "real-time factor (RTF) = seconds of audio generated per second of wall time; > 1 is faster than real time"
    );

    let run = |num: usize, secs_of_audio: f64, kv_cache: bool, report: bool| -> Result<Timing> {
        let max_tokens = (secs_of_audio * rate).round() as usize;
        // EOS is not a stop here, so every row generates all its tokens.
        let options = SampleOptions { num, max_tokens, kv_cache, seed: 7, ..Default::default() };
        let start = Instant::now();
        let samples = sampler.generate(&prompt, None, &options, &mut || {})?;
        let secs = start.elapsed().as_secs_f64();
        let label = if kv_cache { "KV cache" } else { "recompute context" };
        let audio_secs = max_tokens as f64 / rate;
        if !report {
            return Ok(Timing { secs, samples });
        }
        println!(
            "  batch {num}  {label:<17} {audio_secs:5.2} s of audio each  {secs:7.2} s wall  {:8.0} samples/s  \
             RTF per stream {:6.3}  all streams {:6.3}",
            (max_tokens * num) as f64 / secs,
            audio_secs / secs,
            audio_secs * num as f64 / secs
        );
        Ok(Timing { secs, samples })
    };

    run(1, 0.01, true, false)?; // warm-up
    println!(
        "{seconds} s per stream with the KV cache (the cache is rebuilt from 3/4 of the context once it is full):"
    );
    for num in [1, 8] {
        run(num, seconds, true, true)?;
    }
    println!("{no_cache_seconds} s per stream, with and without the cache:");
    let block = m.block_size as usize;
    for num in [1, 8] {
        let cached = run(num, no_cache_seconds, true, true)?;
        let full = run(num, no_cache_seconds, false, true)?;
        // Both see the same context until it is full; then the cache keeps 3/4 of it.
        let same = cached.samples.iter().zip(&full.samples).all(|(a, b)| {
            let n = a.len().min(b.len()).min(block);
            a[..n] == b[..n]
        });
        println!(
            "  batch {num}: the KV cache is {:.1}x faster; same samples while the context fits: {}",
            full.secs / cached.secs,
            if same { "yes" } else { "NO" }
        );
    }
    Ok(())
}
