//! What to draw: `[sample]`, its checks, its overrides on the command line, and why
//! sampling could not start.

use crate::native::Weights;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use tch::Device;

/// Which decoder runs the sampling steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decoder {
    /// The native decoder for a model on the CPU, libtorch for one on a GPU.
    #[default]
    Auto,
    /// The native CPU decoder: the weights are copied to the CPU once.
    Native,
    /// libtorch on the model's device: the reference, and the GPU path.
    Libtorch,
}

impl FromStr for Decoder {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "native" => Ok(Self::Native),
            "libtorch" => Ok(Self::Libtorch),
            _ => Err(format!("unknown decoder {s:?}: expected \"auto\", \"native\" or \"libtorch\"")),
        }
    }
}

impl fmt::Display for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Native => "native",
            Self::Libtorch => "libtorch",
        })
    }
}

/// What proposes tokens for speculative decoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DraftChoice {
    /// Prompt lookup: the tokens that followed the latest earlier occurrence of the
    /// context's last few tokens.
    Ngram,
    /// A smaller model of the same tokenizer: an autoreg run directory.
    Run(PathBuf),
}

impl FromStr for DraftChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" => Err("an empty draft: expected \"ngram\" or a run directory".into()),
            "ngram" => Ok(Self::Ngram),
            run => Ok(Self::Run(PathBuf::from(run))),
        }
    }
}

impl TryFrom<String> for DraftChoice {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<DraftChoice> for String {
    fn from(d: DraftChoice) -> String {
        d.to_string()
    }
}

impl fmt::Display for DraftChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ngram => f.write_str("ngram"),
            Self::Run(path) => write!(f, "{}", path.display()),
        }
    }
}

/// `[sample]`: how to draw tokens. Every field can be overridden on the command line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleOptions {
    /// Number of samples, drawn together in one batch.
    pub num: usize,
    /// New tokens per sample, at most; a sample also stops at EOS.
    pub max_tokens: usize,
    /// New tokens per sample before EOS may be drawn (so that no sample comes out
    /// empty); 0 lets EOS come at any step.
    pub min_tokens: usize,
    /// Logits are divided by it; 0 picks the most likely token.
    pub temperature: f64,
    /// Keep only the k most likely tokens.
    pub top_k: Option<usize>,
    /// Keep the most likely tokens whose probabilities add up to p (nucleus sampling).
    pub top_p: Option<f64>,
    /// Seed of the sampler: the same seed gives the same samples.
    pub seed: u64,
    /// Decode incrementally with a KV cache; `false` recomputes the whole context at
    /// every step (slow, for comparison).
    pub kv_cache: bool,
    /// `"auto"`, `"native"` or `"libtorch"`.
    pub decoder: Decoder,
    /// CPU threads; 0 picks them by path (see [`SampleOptions::threads_for`]).
    pub threads: usize,
    /// The native decoder's matrices: `"f32"`, or `"int8"` (quantized when the run is
    /// loaded, never saved).
    pub weights: Weights,
    /// Speculative decoding: `"ngram"` or a draft run's directory proposes
    /// `draft_tokens` tokens, and one batched step of the model accepts or rejects them
    /// so that samples follow the model's distribution exactly. Rows are then drawn
    /// one at a time.
    pub draft: Option<DraftChoice>,
    /// Tokens the draft proposes per step.
    pub draft_tokens: usize,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            num: 1,
            max_tokens: 500,
            min_tokens: 0,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            seed: 1337,
            kv_cache: true,
            decoder: Decoder::Auto,
            threads: 0,
            weights: Weights::F32,
            draft: None,
            draft_tokens: 4,
        }
    }
}

/// Why sampling could not start.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// Sampling needs at least one token to start from.
    #[error("the prompt is empty: it needs at least one token (BOS)")]
    EmptyPrompt,
    /// An option is out of range.
    #[error("sample.{key} {reason}")]
    BadOption {
        /// The option.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A prompt token is outside the vocabulary.
    #[error("prompt token {0} is outside the model's vocabulary")]
    BadToken(u32),
    /// libtorch failed while drawing a token.
    #[error("sampling failed: {0}")]
    Torch(#[from] tch::TchError),
}

/// Most threads `sample.threads` may ask for.
const MAX_THREADS: usize = 1024;

impl SampleOptions {
    /// Most samples `num` may ask for: they are drawn together, in one batch.
    pub const MAX_NUM: usize = 1 << 16;

    /// Most tokens a draft may propose per step (`draft_tokens`).
    pub const MAX_DRAFT: usize = 16;

    /// Most new tokens `max_tokens` may ask for per sample (2^24: 35 minutes of 8 kHz
    /// sound, 16 MB of text; hours of sampling even for a small model).
    pub const MAX_TOKENS: usize = 1 << 24;

    /// Checks the ranges of the options.
    pub fn validate(&self) -> Result<(), SampleError> {
        let bad = |key, reason: &str| Err(SampleError::BadOption { key, reason: reason.into() });
        if self.num == 0 {
            return bad("num", "must be at least 1");
        }
        if self.num > Self::MAX_NUM {
            let reason = format!("must be at most {}: the samples are drawn together, in one batch", Self::MAX_NUM);
            return bad("num", &reason);
        }
        if self.max_tokens > Self::MAX_TOKENS {
            return bad("max_tokens", &format!("must be at most {} new tokens per sample", Self::MAX_TOKENS));
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad("temperature", "must be a finite number ≥ 0");
        }
        if self.top_k == Some(0) {
            return bad("top_k", "must be at least 1");
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return bad("top_p", "must be in (0, 1]");
        }
        if self.threads > MAX_THREADS {
            return bad("threads", &format!("must be at most {MAX_THREADS} (0 picks them by path)"));
        }
        if self.weights == Weights::Int8 && self.decoder == Decoder::Libtorch {
            return bad("weights", "= \"int8\" runs on the native decoder only, not on libtorch");
        }
        if !(1..=Self::MAX_DRAFT).contains(&self.draft_tokens) {
            return bad("draft_tokens", &format!("must be from 1 to {}", Self::MAX_DRAFT));
        }
        if self.draft.is_some() && !self.kv_cache {
            return bad("draft", "needs the KV cache: speculative decoding rolls it back");
        }
        Ok(())
    }

    /// The decoder that runs for a model on `device`.
    pub fn decoder_for(&self, device: Device) -> Decoder {
        match self.decoder {
            Decoder::Auto if device == Device::Cpu || self.weights == Weights::Int8 => Decoder::Native,
            Decoder::Auto => Decoder::Libtorch,
            chosen => chosen,
        }
    }

    /// CPU threads for `decoder`: `threads` when set. Otherwise, for the native decoder,
    /// every core up to [`NATIVE_THREADS`]: on the 2-core machine 2 threads decode 1.4x to
    /// 1.7x faster than 1 at batch 1 (`sample_speed` prints both); past a few threads a
    /// small model's step has too little work to share out (a product splits into
    /// panels of 64 outputs). For libtorch, libtorch's own default (0: leave it).
    pub fn threads_for(&self, decoder: Decoder) -> usize {
        match (self.threads, decoder) {
            (0, Decoder::Libtorch) => 0,
            (0, _) => std::thread::available_parallelism().map_or(1, |n| n.get().min(NATIVE_THREADS)),
            (n, _) => n,
        }
    }
}

/// Most threads the native decoder takes by default.
pub const NATIVE_THREADS: usize = 8;

/// The command line's overrides of `[sample]`: a flag left out keeps the run's value.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SampleOverrides {
    /// Number of samples (default: the run's `sample.num`).
    #[arg(long)]
    pub num: Option<usize>,
    /// New tokens per sample, at most.
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// New tokens per sample before the end token may be drawn.
    #[arg(long)]
    pub min_tokens: Option<usize>,
    /// Sampling temperature; 0 is greedy.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Keep the k most likely tokens.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Nucleus sampling: keep tokens covering probability p.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Seed: the same seed gives the same samples.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Recompute the whole context at every step instead of using the KV cache.
    #[arg(long)]
    pub no_kv_cache: bool,
    /// `native` (the CPU decoder, the default on the CPU) or `libtorch` (the default on
    /// a GPU); `auto` picks by device.
    #[arg(long, value_name = "DECODER")]
    pub decoder: Option<Decoder>,
    /// CPU threads for sampling (default: every core, up to 8, for the native decoder;
    /// libtorch's own choice for libtorch).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The native decoder's weights: `f32`, or `int8` (quantized at load).
    #[arg(long, value_name = "WEIGHTS")]
    pub weights: Option<Weights>,
    /// Speculative decoding with a draft: `ngram` (prompt lookup) or a smaller run of
    /// the same tokenizer.
    #[arg(long, value_name = "ngram|RUN")]
    pub draft: Option<DraftChoice>,
    /// Tokens the draft proposes per step.
    #[arg(long, value_name = "K")]
    pub draft_tokens: Option<usize>,
}

impl SampleOverrides {
    /// The flag that set the option `key` (as [`SampleError::BadOption`] names it), if
    /// one did.
    pub fn flag(&self, key: &str) -> Option<&'static str> {
        let (given, flag) = match key {
            "num" => (self.num.is_some(), "--num"),
            "max_tokens" => (self.max_tokens.is_some(), "--max-tokens"),
            "min_tokens" => (self.min_tokens.is_some(), "--min-tokens"),
            "temperature" => (self.temperature.is_some(), "--temperature"),
            "top_k" => (self.top_k.is_some(), "--top-k"),
            "top_p" => (self.top_p.is_some(), "--top-p"),
            "seed" => (self.seed.is_some(), "--seed"),
            "kv_cache" => (self.no_kv_cache, "--no-kv-cache"),
            "decoder" => (self.decoder.is_some(), "--decoder"),
            "threads" => (self.threads.is_some(), "--threads"),
            "weights" => (self.weights.is_some(), "--weights"),
            "draft" => (self.draft.is_some(), "--draft"),
            "draft_tokens" => (self.draft_tokens.is_some(), "--draft-tokens"),
            _ => return None,
        };
        given.then_some(flag)
    }
}

impl SampleOptions {
    /// These options, with the ones that `overrides` gives in their place.
    pub fn with(&self, overrides: &SampleOverrides) -> Self {
        Self {
            num: overrides.num.unwrap_or(self.num),
            max_tokens: overrides.max_tokens.unwrap_or(self.max_tokens),
            min_tokens: overrides.min_tokens.unwrap_or(self.min_tokens),
            temperature: overrides.temperature.unwrap_or(self.temperature),
            top_k: overrides.top_k.or(self.top_k),
            top_p: overrides.top_p.or(self.top_p),
            seed: overrides.seed.unwrap_or(self.seed),
            kv_cache: !overrides.no_kv_cache && self.kv_cache,
            decoder: overrides.decoder.unwrap_or(self.decoder),
            threads: overrides.threads.unwrap_or(self.threads),
            weights: overrides.weights.unwrap_or(self.weights),
            draft: overrides.draft.clone().or_else(|| self.draft.clone()),
            draft_tokens: overrides.draft_tokens.unwrap_or(self.draft_tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn decoders_parse_by_name() {
        assert_eq!("native".parse::<Decoder>(), Ok(Decoder::Native));
        assert_eq!("libtorch".parse::<Decoder>().map(|d| d.to_string()), Ok("libtorch".to_string()));
        let err = "torch".parse::<Decoder>().unwrap_err();
        assert!(err.contains("\"torch\"") && err.contains("\"native\""), "{err}");
        let auto = SampleOptions::default();
        assert_eq!(auto.decoder_for(Device::Cpu), Decoder::Native);
        assert_eq!(auto.decoder_for(Device::Cuda(0)), Decoder::Libtorch);
        let bad = SampleOptions { threads: 5000, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("sample.threads"));
    }

    #[test]
    fn weights_and_drafts_parse_and_are_checked() {
        assert_eq!("int8".parse::<Weights>(), Ok(Weights::Int8));
        let err = "int4".parse::<Weights>().unwrap_err();
        assert!(err.contains("\"int4\"") && err.contains("\"int8\""), "{err}");
        assert_eq!("ngram".parse::<DraftChoice>(), Ok(DraftChoice::Ngram));
        assert_eq!("runs/small".parse::<DraftChoice>(), Ok(DraftChoice::Run("runs/small".into())));
        assert!("".parse::<DraftChoice>().is_err());
        // Through TOML as plain strings.
        let o: SampleOptions = toml::from_str("weights = \"int8\"\ndraft = \"runs/small\"\ndraft_tokens = 6").unwrap();
        assert_eq!(
            (o.weights, o.draft.clone(), o.draft_tokens),
            (Weights::Int8, Some(DraftChoice::Run("runs/small".into())), 6)
        );
        assert_eq!(toml::from_str::<SampleOptions>(&toml::to_string(&o).unwrap()).unwrap(), o);
        // int8 picks the native decoder even for a model on a GPU, and refuses libtorch.
        assert_eq!(o.decoder_for(Device::Cuda(0)), Decoder::Native);
        let bad = |o: SampleOptions| o.validate().unwrap_err().to_string();
        let libtorch = SampleOptions { weights: Weights::Int8, decoder: Decoder::Libtorch, ..Default::default() };
        assert!(bad(libtorch).starts_with("sample.weights = \"int8\" runs on the native decoder only"));
        assert!(
            bad(SampleOptions { draft_tokens: 17, ..Default::default() }).starts_with("sample.draft_tokens must be")
        );
        let no_cache = SampleOptions { draft: Some(DraftChoice::Ngram), kv_cache: false, ..Default::default() };
        assert!(bad(no_cache).starts_with("sample.draft needs the KV cache"));
    }

    #[test]
    fn overrides_replace_the_options_they_give_and_name_their_flags() {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            overrides: SampleOverrides,
        }
        let args = ["sample", "--num", "4", "--top-p", "0.5", "--no-kv-cache", "--decoder", "libtorch"];
        let overrides = Cli::parse_from(args).overrides;
        let run = SampleOptions { top_k: Some(7), seed: 3, ..Default::default() };
        let expected =
            SampleOptions { num: 4, top_p: Some(0.5), kv_cache: false, decoder: Decoder::Libtorch, ..run.clone() };
        assert_eq!(run.with(&overrides), expected);
        assert_eq!(run.with(&SampleOverrides::default()), run);
        assert_eq!((overrides.flag("num"), overrides.flag("kv_cache")), (Some("--num"), Some("--no-kv-cache")));
        assert_eq!((overrides.flag("top_k"), overrides.flag("frames")), (None, None));
    }
}
