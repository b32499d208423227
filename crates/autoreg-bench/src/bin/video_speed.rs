//! Video sampling cost per frame, in one run: 20 frames beside 40 frames of a model of
//! `configs/moving-mnist.toml`'s shape (its weights random: the speed does not depend on
//! them), on the native CPU decoder. The context slides by whole frames, so 40 frames
//! should cost twice 20 (the target: at most 2.2x). Rotary positions keep their cache
//! when a frame leaves it; learned positions rebuild it from the frames kept, which
//! costs more per frame but the same at any length. Beside them, 20 frames with the
//! native decoder's int8 weights. Medians of 3 alternating runs.
//!
//! `cargo run --release -p autoreg-bench --bin video_speed [-- --config configs/moving-mnist.toml]`

use anyhow::{Context, Result, bail};
use autoreg::Config;
use autoreg_bench::{median, project_root};
use autoreg_model::{Gpt, Positions, SampleOptions, Sampler, Weights};
use autoreg_pixels::Colors;
use autoreg_tokens::FrameLayout;
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;
use tch::{Device, Kind, nn::VarStore};

#[derive(Parser)]
struct Args {
    /// The config whose model and frames are timed.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Samples drawn together.
    #[arg(long, default_value_t = 1)]
    num: usize,
}

/// Timed runs of each length; the median counts.
const REPEATS: usize = 3;

fn main() -> Result<()> {
    let args = Args::parse();
    let path = args.config.unwrap_or_else(|| project_root().join("configs/moving-mnist.toml"));
    let config = Config::load(&path, &[])?;
    let frame = match &config.single()?.modality {
        autoreg::ModalityConfig::Video(video) if video.frame.colors == Colors::Grey => video.frame.clone(),
        _ => bail!("{}: a video config of grey frames is needed", path.display()),
    };
    let (Some(width), Some(height)) = (frame.width, frame.height) else {
        bail!("{}: set tokenizer.frame.width and height", path.display());
    };
    let context = config.data.context_frames.context("data.context_frames is not set")?;
    // Pixel symbols (grey levels), then the frame token, then BOS, EOS, PAD.
    let layout = FrameLayout { token: frame.levels, len: (width * height) as usize + 1, context };
    let vocab = i64::from(frame.levels) + 4;
    let bos = frame.levels + 1;
    println!(
        "{}: {} layers x {}, frames of {width}x{height} ({} tokens), {context} frame(s) of context, batch {}",
        path.display(),
        config.model.n_layer,
        config.model.n_embd,
        layout.len,
        args.num
    );
    let mut ratios = Vec::new();
    for positions in [Positions::Rope, Positions::Learned] {
        let model_config = autoreg_model::ModelConfig { positions, ..config.model.clone() };
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let model = Gpt::new(&vs.root(), &model_config, vocab, Kind::Float);
        let sampler = Sampler::new(&model, Device::Cpu);
        let time = |frames: usize, weights: Weights| -> Result<f64> {
            let new = frames * layout.len;
            let options =
                SampleOptions { num: args.num, max_tokens: new, min_tokens: new, weights, ..Default::default() };
            let start = Instant::now();
            let out = sampler.generate(&[bos], Some(bos + 1), Some(layout), &options, &mut || {})?;
            let seconds = start.elapsed().as_secs_f64();
            if out.iter().any(|s| s.len() != 1 + new) {
                bail!("a sample of {frames} frames came out short");
            }
            Ok(seconds)
        };
        let (mut twenty, mut forty, mut int8) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..REPEATS {
            twenty.push(time(20, Weights::F32)?);
            forty.push(time(40, Weights::F32)?);
            int8.push(time(20, Weights::Int8)?);
        }
        let (twenty, forty, int8) = (median(&mut twenty), median(&mut forty), median(&mut int8));
        let ratio = forty / twenty;
        println!(
            "  {positions:?} positions: 20 frames {:.2} s ({:.0} ms a frame), 40 frames {:.2} s ({:.0} ms a frame): \
             {ratio:.2}x the time for 2x the frames; int8 weights: 20 frames {:.2} s ({:.0} ms a frame, {:.2}x f32's \
             speed)",
            twenty,
            twenty * 1e3 / 20.0,
            forty,
            forty * 1e3 / 40.0,
            int8,
            int8 * 1e3 / 20.0,
            twenty / int8
        );
        ratios.push(ratio);
    }
    println!("40 frames over 20 frames: rope {:.2}x, learned {:.2}x (target at most 2.2x)", ratios[0], ratios[1]);
    Ok(())
}
