//! Real-time factor of audio generation: seconds of 8 kHz audio generated per second of
//! wall time, for a model of `configs/spoken-digits.toml`'s shape (random weights: the
//! cost does not depend on them), at batch 1 and batch 8, on the native CPU decoder (its
//! default threads: every core) and on the libtorch path for comparison. The rotary
//! model's rolling cache keeps a step's cost flat however long the sound grows.
//!
//! `cargo run --release -p autoreg-bench --bin audio_speed [-- SECONDS]`
//!
//! SECONDS (default 0.5, the config's `sample.max_tokens`) is the length generated per
//! stream.

use anyhow::{Context, Result, bail};
use autoreg::audio::AudioTokenizer;
use autoreg::{Config, ModalityConfig};
use autoreg_bench::{agreement, project_root};
use autoreg_model::{Decoder, Gpt, SampleOptions, Sampler};
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

    let name = "configs/spoken-digits.toml";
    let path = project_root().join(name);
    let config = Config::load(&path, &[])?;
    let ModalityConfig::Audio(audio) = &config.single()?.modality else {
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
    let native_threads = SampleOptions::default().threads_for(Decoder::Native);
    println!(
        "audio generation, {}: {} layers x {}, {} heads, block {} ({:.0} ms), vocabulary {}, {} Hz, {:?} positions; CPU",
        name,
        m.n_layer,
        m.n_embd,
        m.n_head,
        m.block_size,
        m.block_size as f64 / rate * 1e3,
        tok.vocab_size(),
        audio.sample_rate,
        m.positions,
    );
    println!(
        "real-time factor (RTF) = seconds of audio generated per second of wall time; > 1 is faster than real time"
    );

    let max_tokens = (seconds * rate).round() as usize;
    let run = |num: usize, decoder: Decoder| -> Result<Timing> {
        // EOS is not a stop here, so every row generates all its tokens.
        let options = SampleOptions { num, max_tokens, seed: 7, decoder, ..Default::default() };
        let start = Instant::now();
        let samples = sampler.generate(&prompt, None, None, &options, &mut || {})?;
        Ok(Timing { secs: start.elapsed().as_secs_f64(), samples })
    };
    let paths = [
        (format!("native, {native_threads} threads"), Decoder::Native),
        (format!("libtorch, {} threads", tch::get_num_threads()), Decoder::Libtorch),
    ];
    println!("{seconds} s of audio per stream:");
    let mut batch1 = 0.0;
    for num in [1, 8] {
        let timings = paths.iter().map(|(_, d)| run(num, *d)).collect::<Result<Vec<_>>>()?;
        for ((label, _), t) in paths.iter().zip(&timings) {
            println!(
                "  batch {num}  {label:<20} {:7.2} s wall  {:8.0} samples/s  RTF per stream {:6.3}  all streams {:6.3}",
                t.secs,
                (max_tokens * num) as f64 / t.secs,
                seconds / t.secs,
                seconds * num as f64 / t.secs
            );
        }
        println!("  batch {num}: native vs libtorch samples: {}", agreement(&timings[0].samples, &timings[1].samples));
        if num == 1 {
            batch1 = seconds / timings[0].secs;
        }
    }
    println!("real-time factor at batch 1: {batch1:.2}");
    Ok(())
}
