use serde::{Deserialize, Serialize};

/// How the decoder knows where a token is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Positions {
    /// A learned embedding per position, added to the token embedding (GPT-2).
    #[default]
    Learned,
    /// Rotary position embedding applied to queries and keys (RoPE).
    Rope,
}

/// The MLP's activation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mlp {
    /// The exact GELU, `x/2 · (1 + erf(x/√2))`.
    #[default]
    Gelu,
    /// GELU's tanh approximation, `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`: the
    /// one GPT-2 was trained with (`gelu_new` in `transformers`), for imported models.
    GeluTanh,
    /// ReLU squared, `max(0, x)²` (Primer, So et al. 2021; the modded-nanogpt speedrun).
    Relu2,
}

impl Mlp {
    /// Its name in a config.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gelu => "gelu",
            Self::GeluTanh => "gelu_tanh",
            Self::Relu2 => "relu2",
        }
    }
}

/// `[model]`: the decoder's shape. The vocabulary size comes from the tokenizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Number of transformer blocks.
    pub n_layer: i64,
    /// Attention heads per block; must divide `n_embd`.
    pub n_head: i64,
    /// Width of the residual stream.
    pub n_embd: i64,
    /// Longest context, in tokens.
    pub block_size: i64,
    /// Dropout probability during training.
    pub dropout: f64,
    /// Biases in linear layers and layer norms.
    pub bias: bool,
    /// `"learned"` or `"rope"`.
    pub positions: Positions,
    /// RMS-normalise each head's queries and keys (no weights) before attention.
    pub qk_norm: bool,
    /// `"gelu"`, `"gelu_tanh"` or `"relu2"`.
    pub mlp: Mlp,
    /// Share the output head's weights with the token embedding.
    pub tie_head: bool,
    /// Start the blocks' output projections (and an untied head) at zero, so that
    /// every block starts as the identity.
    pub zero_init: bool,
    /// Soft-cap the logits to `±logit_softcap` by `cap · tanh(logits / cap)`; 0 is off.
    pub logit_softcap: f64,
    /// A run directory whose weights (its `best` checkpoint) a new run starts from, with
    /// a fresh optimizer and schedule: fine-tuning. The run takes that run's `[model]`
    /// (but `dropout`, and a `block_size` no larger) and its tokenizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<std::path::PathBuf>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            n_layer: 4,
            n_head: 4,
            n_embd: 128,
            block_size: 64,
            dropout: 0.0,
            bias: false,
            positions: Positions::Learned,
            qk_norm: false,
            mlp: Mlp::Gelu,
            tie_head: true,
            zero_init: false,
            logit_softcap: 0.0,
            init_from: None,
        }
    }
}

impl ModelConfig {
    /// Checks the shape; the error names the key and what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("n_embd", self.n_embd),
            ("block_size", self.block_size),
        ];
        if let Some((key, v)) = positive.iter().find(|(_, v)| *v < 1) {
            return Err(format!("model.{key} must be at least 1, got {v}"));
        }
        if self.n_embd % self.n_head != 0 {
            return Err(format!("model.n_embd ({}) must be a multiple of model.n_head ({})", self.n_embd, self.n_head));
        }
        if self.positions == Positions::Rope && (self.n_embd / self.n_head) % 2 != 0 {
            return Err("model.positions = \"rope\" needs an even head size (n_embd / n_head)".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("model.dropout must be in [0, 1), got {}", self.dropout));
        }
        if !(self.logit_softcap.is_finite() && self.logit_softcap >= 0.0) {
            return Err(format!(
                "model.logit_softcap must be a finite number, at least 0 (0: off), got {}",
                self.logit_softcap
            ));
        }
        Ok(())
    }

    /// Number of parameters for a vocabulary of `vocab_size` tokens.
    pub fn num_params(&self, vocab_size: usize) -> f64 {
        let (l, c, t, v) = (self.n_layer as f64, self.n_embd as f64, self.block_size as f64, vocab_size as f64);
        let positions = if self.positions == Positions::Learned { t * c } else { 0.0 };
        let head = if self.tie_head { 0.0 } else { v * c };
        // Per block: attention 4·C², MLP 8·C², two norms; then the final norm.
        v * c + head + positions + l * (12.0 * c * c + 4.0 * c) + 2.0 * c
    }

    /// Rough bytes of memory that training on batches of `batch` windows takes in f32:
    /// weights, gradients and two AdamW moments, the activations kept for the backward
    /// pass (attention scores included) and the logits. An estimate to refuse sizes
    /// that cannot fit before libtorch tries to allocate them.
    pub fn training_bytes(&self, vocab_size: usize, batch: usize) -> f64 {
        let (l, c, t, h) = (self.n_layer as f64, self.n_embd as f64, self.block_size as f64, self.n_head as f64);
        let tokens = batch as f64 * t;
        let per_token = l * (16.0 * c + 2.0 * h * t) + 3.0 * vocab_size as f64;
        4.0 * (4.0 * self.num_params(vocab_size) + tokens * per_token)
    }

    /// Checks that training (or sampling) `batch` windows fits in `available` bytes of
    /// memory; the error gives the estimate and the keys that set it.
    pub fn check_fits(&self, vocab_size: usize, batch: usize, available: u64) -> Result<(), String> {
        let need = self.training_bytes(vocab_size, batch);
        if need <= available as f64 {
            return Ok(());
        }
        Err(format!(
            "the model and a batch need about {} of memory but {} is available: lower model.n_layer ({}), \
             model.n_embd ({}), model.block_size ({}) or the batch size ({batch})",
            human_bytes(need),
            human_bytes(available as f64),
            self.n_layer,
            self.n_embd,
            self.block_size,
        ))
    }
}

/// `bytes` as `12.3 GB`.
pub(crate) fn human_bytes(bytes: f64) -> String {
    match bytes {
        b if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b => format!("{:.1} MB", b / 1e6),
    }
}

/// Memory the system can still give this process (Linux `MemAvailable`); `None` where
/// it cannot be read.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_count_matches_the_shapes() {
        // nanoGPT's baby GPT on 65 characters: 0.80M parameters with learned positions.
        let c = ModelConfig::default();
        assert_eq!(c.num_params(65), (65 * 128 + 64 * 128 + 4 * (12 * 128 * 128 + 4 * 128) + 2 * 128) as f64);
        let rope = ModelConfig { positions: Positions::Rope, ..ModelConfig::default() };
        assert_eq!(c.num_params(65) - rope.num_params(65), 64.0 * 128.0);
        let untied = ModelConfig { tie_head: false, ..ModelConfig::default() };
        assert_eq!(untied.num_params(65) - c.num_params(65), 65.0 * 128.0);
    }

    #[test]
    fn a_bad_softcap_names_its_key() {
        for cap in [-1.0, f64::NAN, f64::INFINITY] {
            let err = ModelConfig { logit_softcap: cap, ..ModelConfig::default() }.validate().unwrap_err();
            assert!(err.starts_with("model.logit_softcap must be a finite number, at least 0"), "{err}");
        }
        assert_eq!(ModelConfig { logit_softcap: 30.0, ..ModelConfig::default() }.validate(), Ok(()));
    }

    #[test]
    fn absurd_sizes_do_not_fit() {
        let wide = ModelConfig { n_embd: 100_000, n_head: 4, ..ModelConfig::default() };
        let err = wide.check_fits(65, 12, 24 << 30).unwrap_err();
        assert!(
            err.contains("model.n_embd (100000)") && err.contains("TB of memory but 25.8 GB is available"),
            "{err}"
        );
        assert!(ModelConfig::default().check_fits(65, 10_000_000, 24 << 30).is_err());
        assert!(ModelConfig { block_size: 1_000_000, ..ModelConfig::default() }.check_fits(65, 1, 24 << 30).is_err());
        assert!(ModelConfig::default().check_fits(65, 12, 24 << 30).is_ok());
    }
}
