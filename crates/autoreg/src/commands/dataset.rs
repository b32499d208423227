//! `autoreg dataset`.

use super::interactive;
use crate::cli::MovingMnistArgs;
use anyhow::{Context, Result, bail};
use autoreg_pixels::image::DynamicImage;
use autoreg_tokens::write_atomic;
use autoreg_video::moving_mnist::{MovingMnist, load_digits};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// The MNIST images file looked for under the data roots.
const MNIST: &str = "mnist-test/t10k-images-idx3-ubyte.gz";

/// Milliseconds each frame of a clip shows.
const DELAY_MS: u32 = 100;

/// Writes Moving MNIST clips as animated GIFs into a new or empty folder (so that two
/// generations never mix in one data set); returns their paths. Each clip is written
/// atomically, so a killed run leaves whole clips.
pub fn moving_mnist(args: &MovingMnistArgs) -> Result<Vec<PathBuf>> {
    let set = MovingMnist { frames: args.frames, size: args.size, digits: args.digits };
    set.validate().map_err(anyhow::Error::msg)?;
    if args.clips == 0 {
        bail!("--clips 0: must be at least 1 (it is the number of clips to write)");
    }
    refuse_non_empty(&args.out)?;
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
    let mut written = Vec::new();
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

/// Refuses `out` when it exists and holds anything: clips of another seed, size or
/// count would be mixed with these (and `--clips` fewer than before would leave old
/// clips behind).
fn refuse_non_empty(out: &Path) -> Result<()> {
    let mut entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if out.exists() && !out.is_dir() => {
            return Err(e).with_context(|| format!("--out {}: not a folder", out.display()));
        }
        Err(e) => return Err(e).with_context(|| format!("--out {}: cannot read the folder", out.display())),
    };
    if entries.next().is_some() {
        bail!(
            "--out {}: the folder is not empty; Moving MNIST is written into a new or empty folder, so that two sets \
             never mix: remove it, or give another",
            out.display()
        );
    }
    Ok(())
}
