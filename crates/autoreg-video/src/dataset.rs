//! `autoreg dataset moving-mnist`: its arguments, and the command, which writes a set of
//! clips into a new or empty folder. The `autoreg` command's registry of tools declares
//! the subcommand from [`MovingMnistArgs`] and [`write_moving_mnist`], and draws the
//! progress this reports (this crate draws nothing).

use crate::moving_mnist::{MovingMnist, load_digits};
use autoreg_data::Progress;
use autoreg_tokens::write_atomic;
use clap::Args;
use image::DynamicImage;
use std::fmt;
use std::path::{Path, PathBuf};

/// The MNIST images file looked for under the data roots.
const MNIST: &str = "mnist-test/t10k-images-idx3-ubyte.gz";

/// Milliseconds each frame of a clip shows.
const DELAY_MS: u32 = 100;

/// `autoreg dataset moving-mnist`.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct MovingMnistArgs {
    /// The folder to write the clips to (`clip-00000.gif`, ...; with `--labelled`,
    /// `7_00000.gif`, ...).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of clips.
    #[arg(long, default_value_t = 1000)]
    pub clips: u64,
    /// Frames per clip.
    #[arg(long, default_value_t = 20)]
    pub frames: usize,
    /// Side of the square frame, in pixels (digits are 28).
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Digits per clip.
    #[arg(long, default_value_t = 2)]
    pub digits: usize,
    /// Seed: the same seed makes the same clips.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The MNIST images file (IDX, gzip or not); default:
    /// `mnist-test/t10k-images-idx3-ubyte.gz` under the data roots (`$AUTOREG_DATA`, `datasets/`).
    #[arg(long, value_name = "FILE")]
    pub mnist: Option<PathBuf>,
    /// Name each clip by its digits' labels, read from the IDX labels file beside the
    /// images: `7_00042.gif` for one digit, `3-7_00042.gif` for two. A video config
    /// with `conditional = true` takes the label from the name.
    #[arg(long)]
    pub labelled: bool,
}

/// A set written by [`write_moving_mnist`]; it displays as the line that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovingMnistSet {
    /// The clips, in order.
    pub clips: Vec<PathBuf>,
    /// The settings they were made with.
    pub args: MovingMnistArgs,
    /// The MNIST images file the digits came from.
    pub mnist: PathBuf,
}

impl fmt::Display for MovingMnistSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.args;
        write!(
            f,
            "wrote {} clips of {} frames of {}x{} to {} (digits from {})",
            a.clips,
            a.frames,
            a.size,
            a.size,
            a.out.display(),
            self.mnist.display()
        )
    }
}

/// Why no set was written: a message that names the option or file, and its cause.
#[derive(Debug)]
pub struct DatasetError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DatasetError {
    /// An error of `message` alone.
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), source: None }
    }

    /// `message`, caused by `source`.
    fn caused(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self { message: message.into(), source: Some(Box::new(source)) }
    }
}

impl fmt::Display for DatasetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DatasetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<autoreg_tokens::TokenError> for DatasetError {
    fn from(e: autoreg_tokens::TokenError) -> Self {
        Self { message: e.to_string(), source: None }
    }
}

/// Writes Moving MNIST clips as animated GIFs into a new or empty folder (so that two
/// generations never mix in one data set). Each clip is written atomically, so a killed
/// run leaves whole clips. `progress` is told of each clip written.
pub fn write_moving_mnist(args: &MovingMnistArgs, progress: &dyn Progress) -> Result<MovingMnistSet, DatasetError> {
    let set = MovingMnist { frames: args.frames, size: args.size, digits: args.digits };
    set.validate().map_err(DatasetError::new)?;
    if args.clips == 0 {
        return Err(DatasetError::new("--clips 0: must be at least 1 (it is the number of clips to write)"));
    }
    refuse_non_empty(&args.out)?;
    let mnist = match &args.mnist {
        Some(path) => path.clone(),
        None => autoreg_data::find_data(MNIST)
            .map_err(|e| DatasetError::caused("the MNIST digits: give --mnist FILE", e))?,
    };
    let digits = load_digits(&mnist, args.labelled)
        .map_err(|e| DatasetError::caused(format!("cannot read the MNIST digits of {}", mnist.display()), e))?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| DatasetError::caused(format!("cannot create the output folder {}", args.out.display()), e))?;
    progress.begin("moving mnist clips", args.clips);
    let written = (0..args.clips)
        .map(|index| {
            let clip = set.clip(&digits.images, args.seed, index);
            let name = if args.labelled {
                let labels: Vec<&str> = clip.digits.iter().map(|&d| digits.labels[d].as_str()).collect();
                labels.join("-")
            } else {
                "clip-".to_owned()
            };
            let separator = if args.labelled { "_" } else { "" };
            let path = args.out.join(format!("{name}{separator}{index:05}.gif"));
            let frames: Vec<DynamicImage> = clip.frames.into_iter().map(Into::into).collect();
            write_atomic(&path, &crate::encode_gif(&frames, DELAY_MS)?)?;
            progress.advance(1);
            Ok(path)
        })
        .collect::<Result<Vec<PathBuf>, DatasetError>>();
    progress.end();
    Ok(MovingMnistSet { clips: written?, args: args.clone(), mnist })
}

/// Refuses `out` when it exists and holds anything: clips of another seed, size or
/// count would be mixed with these (and `--clips` fewer than before would leave old
/// clips behind).
fn refuse_non_empty(out: &Path) -> Result<(), DatasetError> {
    let mut entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if out.exists() && !out.is_dir() => {
            return Err(DatasetError::caused(format!("--out {}: not a folder", out.display()), e));
        }
        Err(e) => return Err(DatasetError::caused(format!("--out {}: cannot read the folder", out.display()), e)),
    };
    if entries.next().is_some() {
        return Err(DatasetError::new(format!(
            "--out {}: the folder is not empty; Moving MNIST is written into a new or empty folder, so that two sets \
             never mix: remove it, or give another",
            out.display()
        )));
    }
    Ok(())
}
