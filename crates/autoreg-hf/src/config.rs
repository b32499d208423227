//! GPT-2's `config.json` as `transformers` writes it, and autoreg's `[model]`.

use crate::HfError;
use autoreg_model::{Mlp, ModelConfig, Positions};
use serde::{Deserialize, Serialize};

/// The layer norms' epsilon of autoreg and of GPT-2.
const LAYER_NORM_EPSILON: f64 = 1e-5;

/// The keys of a `transformers` GPT-2 `config.json` that decide the network; the others
/// are kept as they are read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gpt2Config {
    /// `"gpt2"`.
    pub model_type: String,
    /// Rows of the token embedding.
    pub vocab_size: i64,
    /// Longest context (rows of the position embedding).
    pub n_positions: i64,
    /// Width of the residual stream.
    pub n_embd: i64,
    /// Number of blocks.
    pub n_layer: i64,
    /// Attention heads per block.
    pub n_head: i64,
    /// Width of the MLP; `null` is 4 · `n_embd`.
    #[serde(default)]
    pub n_inner: Option<i64>,
    /// `"gelu_new"` (GPT-2's tanh approximation) or `"gelu"`.
    #[serde(default = "gelu_new")]
    pub activation_function: String,
    /// The layer norms' epsilon.
    #[serde(default = "layer_norm_epsilon")]
    pub layer_norm_epsilon: f64,
    /// Whether the output head is the token embedding.
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
    /// Attention scores divided by √head size.
    #[serde(default = "yes")]
    pub scale_attn_weights: bool,
    /// Attention scores also divided by the layer's index plus one.
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    /// Every other key, written back as read.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

fn gelu_new() -> String {
    "gelu_new".into()
}

fn layer_norm_epsilon() -> f64 {
    LAYER_NORM_EPSILON
}

fn yes() -> bool {
    true
}

impl Gpt2Config {
    /// Reads `config.json`; the error names the file and the key.
    pub fn read(path: &std::path::Path) -> Result<Self, HfError> {
        let text = std::fs::read_to_string(path).map_err(|e| HfError::file(path, e.to_string()))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| HfError::file(path, e.to_string()))?;
        match value.get("model_type").and_then(|v| v.as_str()) {
            Some("gpt2") => {}
            Some(other) => {
                return Err(HfError::file(
                    path,
                    format!("`model_type` is {other:?}: autoreg imports GPT-2 models only (\"gpt2\")"),
                ));
            }
            None => return Err(HfError::file(path, "no `model_type`: not a transformers config.json")),
        }
        serde_json::from_value(value).map_err(|e| HfError::file(path, e.to_string()))
    }

    /// autoreg's `[model]` for this network, or what it has that autoreg has not.
    pub fn to_model(&self) -> Result<ModelConfig, String> {
        let mlp = match self.activation_function.as_str() {
            "gelu_new" | "gelu_pytorch_tanh" => Mlp::GeluTanh,
            "gelu" => Mlp::Gelu,
            other => {
                return Err(format!("`activation_function` {other:?}: autoreg has \"gelu_new\" and \"gelu\""));
            }
        };
        if (self.layer_norm_epsilon - LAYER_NORM_EPSILON).abs() > 1e-12 {
            return Err(format!("`layer_norm_epsilon` {}: autoreg's layer norms use 1e-5", self.layer_norm_epsilon));
        }
        if let Some(inner) = self.n_inner.filter(|&n| n != 4 * self.n_embd) {
            return Err(format!("`n_inner` {inner}: autoreg's MLP is 4 · n_embd = {} wide", 4 * self.n_embd));
        }
        if !self.scale_attn_weights || self.scale_attn_by_inverse_layer_idx {
            return Err("`scale_attn_weights` false or `scale_attn_by_inverse_layer_idx` true: autoreg scales \
                        attention by 1/√head size only"
                .into());
        }
        let model = ModelConfig {
            n_layer: self.n_layer,
            n_head: self.n_head,
            n_embd: self.n_embd,
            block_size: self.n_positions,
            dropout: 0.0,
            bias: true,
            positions: Positions::Learned,
            qk_norm: false,
            mlp,
            tie_head: self.tie_word_embeddings,
            zero_init: false,
            logit_softcap: 0.0,
            init_from: None,
        };
        model.validate().map(|()| model).map_err(|e| format!("it describes a model autoreg cannot build: {e}"))
    }

    /// The config of autoreg's `model` over `vocab_size` ids, with `specials` (the ids
    /// of `bos_token_id`, `eos_token_id`, `pad_token_id`), when GPT-2 can express it.
    pub fn from_model(model: &ModelConfig, vocab_size: i64, specials: [u32; 3]) -> Result<Self, HfError> {
        exportable(model)?;
        let [bos, eos, pad] = specials;
        let rest = [
            ("architectures", serde_json::json!(["GPT2LMHeadModel"])),
            ("n_ctx", model.block_size.into()),
            ("resid_pdrop", model.dropout.into()),
            ("embd_pdrop", model.dropout.into()),
            ("attn_pdrop", model.dropout.into()),
            ("initializer_range", 0.02.into()),
            ("use_cache", true.into()),
            ("bos_token_id", bos.into()),
            ("eos_token_id", eos.into()),
            ("pad_token_id", pad.into()),
            ("torch_dtype", "float32".into()),
        ];
        let rest = rest.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Ok(Self {
            model_type: "gpt2".into(),
            vocab_size,
            n_positions: model.block_size,
            n_embd: model.n_embd,
            n_layer: model.n_layer,
            n_head: model.n_head,
            n_inner: None,
            activation_function: match model.mlp {
                Mlp::GeluTanh => "gelu_new".into(),
                _ => "gelu".into(),
            },
            layer_norm_epsilon: LAYER_NORM_EPSILON,
            tie_word_embeddings: model.tie_head,
            scale_attn_weights: true,
            scale_attn_by_inverse_layer_idx: false,
            rest,
        })
    }
}

/// Checks that GPT-2 can express `model`: learned positions, a GELU MLP, no QK-norm and
/// no soft cap (biases off are exported as zeros, an untied head as `lm_head`). The
/// error names the option and the overrides that train a model that exports.
pub fn exportable(model: &ModelConfig) -> Result<(), HfError> {
    let refused = [
        (model.positions == Positions::Rope).then_some("model.positions = \"rope\""),
        (model.mlp == Mlp::Relu2).then_some("model.mlp = \"relu2\""),
        model.qk_norm.then_some("model.qk_norm = true"),
        (model.logit_softcap > 0.0).then_some("model.logit_softcap > 0"),
    ];
    let refused: Vec<&str> = refused.into_iter().flatten().collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(HfError::Unsupported(format!(
        "{} has no GPT-2 form in transformers or llama.cpp; a run trained with GPT-2's options exports: \
         --set model.positions=learned --set 'model.mlp=\"gelu\"' --set model.qk_norm=false \
         --set model.logit_softcap=0.0",
        refused.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpt2() -> Gpt2Config {
        serde_json::from_value(serde_json::json!({
            "model_type": "gpt2", "vocab_size": 100, "n_positions": 32, "n_embd": 64, "n_layer": 2,
            "n_head": 4, "activation_function": "gelu_new", "bos_token_id": 99,
        }))
        .unwrap()
    }

    #[test]
    fn gpt2_is_autoregs_decoder_with_biases_and_the_tanh_gelu() {
        let model = gpt2().to_model().unwrap();
        assert_eq!((model.n_layer, model.n_head, model.n_embd, model.block_size), (2, 4, 64, 32));
        assert!(model.bias && model.tie_head && model.mlp == Mlp::GeluTanh);
        let back = Gpt2Config::from_model(&model, 100, [1, 2, 3]).unwrap();
        assert_eq!(back.to_model().unwrap(), model);
        assert_eq!(back.rest["eos_token_id"], 2);
    }

    #[test]
    fn what_autoreg_has_not_is_named() {
        let err = |c: Gpt2Config| c.to_model().unwrap_err();
        assert!(err(Gpt2Config { activation_function: "relu".into(), ..gpt2() }).contains("`activation_function`"));
        assert!(err(Gpt2Config { n_inner: Some(10), ..gpt2() }).contains("`n_inner` 10"));
        assert!(err(Gpt2Config { layer_norm_epsilon: 1e-6, ..gpt2() }).contains("`layer_norm_epsilon`"));
        assert!(err(Gpt2Config { n_head: 5, ..gpt2() }).contains("n_head"));
        let rope = ModelConfig { positions: Positions::Rope, mlp: Mlp::Relu2, ..ModelConfig::default() };
        let refused = exportable(&rope).unwrap_err().to_string();
        assert!(
            refused.starts_with("model.positions = \"rope\", model.mlp = \"relu2\" has no GPT-2 form"),
            "{refused}"
        );
        assert!(exportable(&ModelConfig::default()).is_ok(), "autoreg's defaults are GPT-2's");
    }
}
