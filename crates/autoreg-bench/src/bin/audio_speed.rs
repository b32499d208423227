//! Real-time factor of audio generation: seconds of 8 kHz audio generated per second of
//! wall time, decoding to samples included, for models of `configs/spoken-digits.toml`'s
//! shape (random weights: the cost does not depend on them), at batch 1 and batch 8, on
//! the native CPU decoder (its default threads: every core) with f32 and with int8
//! weights, and on the libtorch path:
//!
//! - the reference: sample tokens (8-bit mu-law, 8,000 ids per second) with the context
//!   the sample-level config had (512 ids);
//! - the config's tokenizer: the codes of its learned codec (50 per second), decoded by
//!   the codec. The codec is the one a run of the config trained (`runs/spoken-digits`,
//!   or `--run DIR`; `autoreg codec train configs/spoken-digits.toml` trains it alone).
//!
//! `cargo run --release -p autoreg-bench --bin audio_speed [-- SECONDS] [--run DIR]`
//!
//! SECONDS (default 1) is the length generated per stream.

use anyhow::{Context, Result, bail};
use autoreg::{Config, SavedTokenizer};
use autoreg_bench::{agreement, project_root};
use autoreg_model::{Decoder, Gpt, ModelConfig, SampleOptions, Sampler, Weights};
use autoreg_tokens::Pipeline;
use std::path::PathBuf;
use std::time::Instant;
use tch::{Device, Kind, nn::VarStore};

/// One timed generation, decoding included.
struct Timing {
    secs: f64,
    samples: Vec<Vec<u32>>,
}

fn main() -> Result<()> {
    let (mut seconds, mut run_dir) = (1.0, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--run" => run_dir = Some(PathBuf::from(args.next().context("--run needs a directory")?)),
            _ => seconds = a.parse().with_context(|| format!("{a}: not a number of seconds"))?,
        }
    }
    let name = "configs/spoken-digits.toml";
    let config = Config::load(&project_root().join(name), &[])?;
    let run_dir = run_dir.unwrap_or_else(|| project_root().join(config.run_dir()));
    let coded = SavedTokenizer::load(&run_dir.join("tokenizer.json")).with_context(|| {
        format!("the codec of {name}: train the config, or `autoreg codec train {name}`, or give --run DIR")
    })?;
    if coded.codec().is_none() {
        bail!("{}: its tokenizer has no codec", run_dir.display());
    }
    let samples = coded.before_stages().map_err(anyhow::Error::msg)?;
    println!(
        "audio generation, {name}'s model ({} layers x {}, {} heads, {:?} positions), CPU; real-time factor (RTF) = \
         seconds of audio per second of wall time, decoding to samples included",
        config.model.n_layer, config.model.n_embd, config.model.n_head, config.model.positions
    );
    let reference = ModelConfig { block_size: 512, ..config.model.clone() };
    let [sample_rtf, sample_int8] = measure("sample tokens (mu-law)", samples.pipeline(), &reference, 8000.0, seconds)?;
    let per_second = coded.codec().and_then(|c| c.codes_per_second()).unwrap_or(0.0);
    let [codec_rtf, codec_int8] = measure("codec codes", coded.pipeline(), &config.model, per_second, seconds)?;
    println!(
        "\nreal-time factor at batch 1, native decoder: codec {codec_rtf:.1}, sample tokens {sample_rtf:.2} ({:.0}x); \
         int8 weights: codec {codec_int8:.1} ({:.2}x f32), sample tokens {sample_int8:.2} ({:.2}x f32)",
        codec_rtf / sample_rtf,
        codec_int8 / codec_rtf,
        sample_int8 / sample_rtf
    );
    Ok(())
}

/// Times `seconds` of audio at `per_second` ids per second from a random model of
/// `model`'s shape over `tok`'s ids, at batch 1 and 8 on both decoders; returns the
/// real-time factors at batch 1 on the native decoder, f32 and int8.
fn measure(what: &str, tok: Pipeline<'_>, model: &ModelConfig, per_second: f64, seconds: f64) -> Result<[f64; 2]> {
    let prompt = tok.class_prompt(3)?;
    tch::manual_seed(1337);
    let vs = VarStore::new(Device::Cpu);
    let gpt = Gpt::new(&vs.root(), model, tok.vocab_size() as i64, Kind::Float);
    let sampler = Sampler::new(&gpt, Device::Cpu);
    let max_tokens = (seconds * per_second).round() as usize;
    println!(
        "\n{what}: vocabulary {}, {per_second} ids per second, context {} ({:.2} s); {seconds} s per stream",
        tok.vocab_size(),
        model.block_size,
        model.block_size as f64 / per_second
    );
    let run = |num: usize, decoder: Decoder, weights: Weights| -> Result<Timing> {
        // EOS is not a stop here, so every row generates all its tokens.
        let options = SampleOptions { num, max_tokens, seed: 7, decoder, weights, ..Default::default() };
        let start = Instant::now();
        let samples = sampler.generate(&prompt, None, None, &options, &mut || {})?;
        for row in &samples {
            tok.decode(row)?;
        }
        Ok(Timing { secs: start.elapsed().as_secs_f64(), samples })
    };
    let native_threads = SampleOptions::default().threads_for(Decoder::Native);
    let paths = [
        (format!("native, {native_threads} threads"), Decoder::Native, Weights::F32),
        (format!("native int8, {native_threads} threads"), Decoder::Native, Weights::Int8),
        (format!("libtorch, {} threads", tch::get_num_threads()), Decoder::Libtorch, Weights::F32),
    ];
    let mut batch1 = [0.0; 2];
    for num in [1, 8] {
        let timings = paths.iter().map(|(_, d, w)| run(num, *d, *w)).collect::<Result<Vec<_>>>()?;
        for ((label, ..), t) in paths.iter().zip(&timings) {
            println!(
                "  batch {num}  {label:<20} {:7.2} s wall  {:8.0} ids/s  RTF per stream {:7.3}  all streams {:7.3}",
                t.secs,
                (max_tokens * num) as f64 / t.secs,
                seconds / t.secs,
                seconds * num as f64 / t.secs
            );
        }
        println!("  batch {num}: native vs libtorch ids: {}", agreement(&timings[0].samples, &timings[2].samples));
        if num == 1 {
            batch1 = [seconds / timings[0].secs, seconds / timings[1].secs];
        }
    }
    Ok(batch1)
}
