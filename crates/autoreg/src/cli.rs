//! Command-line arguments.

use crate::tools::DatasetCommand;
use autoreg_model::{DeviceChoice, SampleOverrides};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Train autoregressive models on text, music, images or sound, and sample from them.
#[derive(Debug, Parser)]
#[command(name = "autoreg", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from a TOML config, or resume a run.
    Train(TrainArgs),
    /// Generate files from a trained run.
    Sample(Box<SampleArgs>),
    /// Report the validation loss of a trained run.
    Eval(EvalArgs),
    /// Show the tokens of a file under a run's tokenizer.
    Encode(EncodeArgs),
    /// Turn token ids back into a file.
    Decode(DecodeArgs),
    /// Describe a run: config, tokenizer, checkpoints, metrics.
    Info(InfoArgs),
    /// Render a file into previews for people (the help is the registry's).
    #[command(about = crate::tools::RENDER_ABOUT, long_about = None)]
    Render(RenderArgs),
    /// Write a run's report: one HTML page with its loss curves, evaluation and samples.
    Report(ReportArgs),
    /// Make a data set locally.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Learned codecs: train one alone, for other runs to reuse.
    #[command(subcommand)]
    Codec(CodecCommand),
    /// Bring a pretrained model in as a run, to sample, evaluate or fine-tune.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write a run's model for other tools: a transformers folder or a GGUF file.
    Export(ExportArgs),
}

/// `autoreg import`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A Hugging Face GPT-2 folder on disk (config.json, model.safetensors or
    /// pytorch_model.bin, tokenizer.json), as `save_pretrained` writes it, into
    /// `runs/NAME`; fine-tune it with `autoreg train CONFIG --init-from runs/NAME`.
    Hf(ImportHfArgs),
}

/// `autoreg import hf`.
#[derive(Debug, Args)]
pub struct ImportHfArgs {
    /// The folder.
    pub dir: PathBuf,
    /// The run's name (default: the folder's name); it is written to runs/NAME.
    #[arg(long)]
    pub name: Option<String>,
}

/// What `autoreg export` writes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    /// A folder that transformers' `AutoModelForCausalLM.from_pretrained` loads (GPT-2).
    Hf,
    /// A GGUF file of llama.cpp's GPT-2 architecture, in f32.
    Gguf,
}

/// `autoreg export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The folder (hf) or file (gguf) to write.
    pub out: PathBuf,
}

/// `autoreg codec`.
#[derive(Debug, Subcommand)]
pub enum CodecCommand {
    /// Train the codecs of a config's tokenizer (`[tokenizer.codec]`) into its run
    /// directory, without a model; other configs reuse them with
    /// `[tokenizer.codec] from = "runs/NAME"`. Run again after a kill, it resumes.
    Train(CodecTrainArgs),
}

/// `autoreg codec train`.
#[derive(Debug, Args)]
pub struct CodecTrainArgs {
    /// The TOML config.
    pub config: PathBuf,
    /// Override a config key, e.g. `--set tokenizer.codec.steps=500` (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub set: Vec<String>,
}

/// `autoreg train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The TOML config (with --resume: the run it names is resumed).
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. `--set train.max_steps=500` (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub set: Vec<String>,
    /// Continue a run from its last checkpoint: the run named by the config, or RUN_DIR.
    #[arg(long, value_name = "RUN_DIR", num_args = 0..=1)]
    pub resume: Option<Option<PathBuf>>,
    /// Train data-parallel on N processes of this machine (ranks that split each step's
    /// batch); under torchrun or another launcher, leave it out.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub nproc: u16,
    /// Start from the weights of the run RUN_DIR, with its model and tokenizer, and a
    /// fresh optimizer and schedule (fine-tuning): `--set model.init_from=RUN_DIR`.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
}

impl TrainArgs {
    /// The `--set` overrides, `--init-from` among them.
    pub fn overrides(&self) -> Vec<String> {
        let init = self.init_from.iter().map(|dir| format!("model.init_from={:?}", dir.display().to_string()));
        self.set.iter().cloned().chain(init).collect()
    }
}

/// Which checkpoint of a run to use.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum Which {
    /// The lowest validation loss.
    #[default]
    Best,
    /// The most recent.
    Last,
}

impl Which {
    /// The link name in the run directory.
    pub fn link(self) -> &'static str {
        match self {
            Self::Best => "best",
            Self::Last => "last",
        }
    }
}

/// Options shared by the commands that load a trained model.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The run directory, e.g. runs/shakespeare-char.
    pub run_dir: PathBuf,
    /// Which checkpoint.
    #[arg(long, value_enum, default_value_t)]
    pub checkpoint: Which,
    /// Run on this device instead of the run's `train.device`.
    #[arg(long)]
    pub device: Option<DeviceChoice>,
}

/// `autoreg sample`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct SampleArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub overrides: SampleOverrides,
    /// A prompt file in the modality's own format, continued by every sample.
    #[arg(long)]
    pub prompt: Option<PathBuf>,
    /// Keep the first N units of the prompt, in the modality's own unit (bars of
    /// music, rows of an image, seconds of sound: `autoreg info RUN` names it).
    #[arg(long, value_name = "N", requires = "prompt")]
    pub prompt_length: Option<f64>,
    /// Keep the first N frames of a video prompt (`--prompt-length` in frames).
    #[arg(long, value_name = "N", requires = "prompt", conflicts_with = "prompt_length")]
    pub prompt_frames: Option<usize>,
    /// Not a flag: refused with a pointer to `--prompt-length`, which keeps a prompt's
    /// first bars (clap alone would suggest `--prompt-frames`, which is for video).
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "")]
    pub prompt_bars: Option<String>,
    /// Not a flag, like `--prompt-bars`: `--prompt-length` keeps an image prompt's first rows.
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "")]
    pub prompt_rows: Option<String>,
    /// Not a flag, like `--prompt-bars`: `--prompt-length` keeps a sound prompt's first seconds.
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "")]
    pub prompt_seconds: Option<String>,
    /// Not a flag, like `--prompt-bars`: `--prompt-length` keeps a code prompt's first lines.
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "")]
    pub prompt_lines: Option<String>,
    /// Frames per video sample, the prompt's included (default: as many whole frames as
    /// `--max-tokens` holds after the prompt).
    #[arg(long, value_name = "N", conflicts_with = "max_tokens")]
    pub frames: Option<usize>,
    /// Sample one class of a class-conditional run, by name or number
    /// (`autoreg info RUN` lists them). With `--prompt`, the prompt's class: a prompt's
    /// class is never taken from its folder or name; without `--class` it is the class
    /// under which the model finds the prompt likeliest (a code prompt's language is
    /// still its extension's).
    #[arg(long, value_name = "CLASS")]
    pub class: Option<String>,
    /// Sample every class, N samples each, and draw them as one grid, a row per class.
    #[arg(long, value_name = "N", conflicts_with_all = ["prompt", "class"])]
    pub per_class: Option<usize>,
    /// In a run of several sources: end each sample with a segment of this modality
    /// (`text`, `pixels`, `audio`, `midi`, `code`: `autoreg info RUN` lists the run's).
    /// Where that modality's sources all have captions, the model writes one first.
    #[arg(long, value_name = "KIND", conflicts_with_all = ["prompt", "class", "per_class"])]
    pub modality: Option<String>,
    /// In a run of several sources: the caption that each sample's `--modality`
    /// segment follows ("seven").
    #[arg(long, value_name = "TEXT", requires = "modality")]
    pub text: Option<String>,
    /// Fill in the middle of this file: regenerate its `--span` and keep the rest as it
    /// is (a run trained with `data.fim_rate` > 0). `--num N` gives N candidates.
    #[arg(long, value_name = "FILE", requires = "span", conflicts_with_all = ["prompt", "per_class", "modality", "frames"])]
    pub infill: Option<PathBuf>,
    /// With `--infill`: the units to regenerate, `A:B`, counted from 1 and both included,
    /// in the run's unit (lines of code and text, bars of music, rows of an image,
    /// frames of a clip: `autoreg info RUN` names it). `5:5` is one.
    #[arg(long, value_name = "A:B", requires = "infill")]
    pub span: Option<String>,
    /// Folder for the generated files.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Rewrite the run's report (RUN/report.html) after sampling.
    #[arg(long)]
    pub report: bool,
}

/// `autoreg eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Order of the Markov-chain baseline.
    #[arg(long, default_value_t = 3)]
    pub markov_order: usize,
    /// Skip the count-based baselines.
    #[arg(long)]
    pub no_baselines: bool,
    /// Windows past a document's first advance by N tokens, so that every scored token
    /// has at least block_size - N before it (default: block_size / 2).
    #[arg(long, value_name = "N")]
    pub stride: Option<usize>,
    /// Evaluate on this file or folder, split by the run's `[data]` rules, instead of
    /// the run's own data (an imported run has none).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Evaluate through the native CPU decoder with its matrices in `f32` or `int8`
    /// (as `autoreg sample --weights` samples), instead of libtorch.
    #[arg(long, value_name = "WEIGHTS")]
    pub weights: Option<autoreg_model::Weights>,
    /// Score infilling instead (a run trained with `data.fim_rate` > 0): in each held-out
    /// document one unit (a line, a bar, a row) chosen by `--seed`, its loss given what
    /// comes before and after it beside its loss given what comes before alone, and how
    /// often greedy decoding writes it exactly either way.
    #[arg(long, conflicts_with = "weights")]
    pub infill: bool,
    /// With `--infill`: how many held-out documents to score, one middle each.
    #[arg(long, value_name = "N", default_value_t = 100, requires = "infill")]
    pub docs: usize,
    /// With `--infill`: the seed that chooses the middles.
    #[arg(long, value_name = "SEED", default_value_t = 0, requires = "infill")]
    pub seed: u64,
}

impl EvalArgs {
    /// `autoreg eval RUN --no-baselines` of `model`: the run's own data through libtorch,
    /// windows advancing by half a block (what the benchmarks compare).
    pub fn without_baselines(model: ModelArgs) -> Self {
        Self {
            model,
            markov_order: 3,
            no_baselines: true,
            stride: None,
            data: None,
            weights: None,
            infill: false,
            docs: 0,
            seed: 0,
        }
    }
}

/// `autoreg encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// A run directory or a tokenizer.json.
    pub tokenizer: PathBuf,
    /// The file to encode.
    pub file: PathBuf,
    /// Print token ids instead of names.
    #[arg(long)]
    pub ids: bool,
}

/// `autoreg decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// A run directory or a tokenizer.json.
    pub tokenizer: PathBuf,
    /// A file of whitespace-separated token ids (`-` reads standard input).
    pub ids: PathBuf,
    /// The file to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// `autoreg info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The run directory.
    pub run_dir: PathBuf,
}

/// `autoreg render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The file to render (its extension picks the renderer).
    pub file: PathBuf,
    /// Folder for the previews, named after the file (default: out/ in the working
    /// folder, as `sample` writes).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `autoreg report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory.
    pub run_dir: PathBuf,
    /// A folder of samples to show besides those `autoreg sample` recorded (repeatable).
    #[arg(long, value_name = "DIR")]
    pub samples: Vec<PathBuf>,
    /// The page to write (default: RUN/report.html).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}
