//! `autoreg dataset`.

use super::interactive;
use crate::cli::MovingMnistArgs;
use anyhow::{Context, Result};
use autoreg_pixels::image::DynamicImage;
use autoreg_tokens::write_atomic;
use autoreg_video::moving_mnist::{MovingMnist, load_digits};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// The MNIST images file looked for under the data roots.
const MNIST: &str = "mnist-test/t10k-images-idx3-ubyte.gz";

/// Milliseconds each frame of a clip shows.
const DELAY_MS: u32 = 100;

/// Writes Moving MNIST clips as animated GIFs; returns their paths. Each clip is written
/// atomically, so a killed run leaves whole clips, and running again rewrites them.
pub fn moving_mnist(args: &MovingMnistArgs) -> Result<Vec<PathBuf>> {
    let set = MovingMnist { frames: args.frames, size: args.size, digits: args.digits };
    set.validate().map_err(anyhow::Error::msg)?;
    let mnist = match &args.mnist {
        Some(path) => path.clone(),
        None => autoreg_data::find_data(MNIST).context("the MNIST digits: give --mnist FILE")?,
    };
    let digits = load_digits(&mnist).with_context(|| format!("cannot read the MNIST digits of {}", mnist.display()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let bar = if interactive() { ProgressBar::new(args.clips) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("moving mnist {bar:30} {pos}/{len} clips {per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut written = Vec::with_capacity(args.clips as usize);
    for index in 0..args.clips {
        let frames: Vec<DynamicImage> = set.clip(&digits, args.seed, index).into_iter().map(Into::into).collect();
        let path = args.out.join(format!("clip-{index:05}.gif"));
        write_atomic(&path, &autoreg_video::encode_gif(&frames, DELAY_MS)?)?;
        written.push(path);
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "wrote {} clips of {} frames of {}x{} to {} (digits from {})",
        args.clips,
        args.frames,
        args.size,
        args.size,
        args.out.display(),
        mnist.display()
    );
    Ok(written)
}
