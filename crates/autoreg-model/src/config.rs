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
        Ok(())
    }
}
