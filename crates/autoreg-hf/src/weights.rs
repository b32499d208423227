//! GPT-2's tensors in `transformers`' names and layout, and in autoreg's.
//!
//! `transformers` names a tensor `transformer.h.0.attn.c_attn.weight` (the prefix may be
//! absent, as in OpenAI's own checkpoint) where autoreg names it `h.0.attn.c_attn.weight`,
//! and keeps the weights of its `Conv1D` layers (`c_attn`, `c_proj`, `c_fc`) as (in, out)
//! where autoreg's are (out, in). The head `lm_head.weight` is written only when untied.

use crate::HfError;
use autoreg_model::ModelConfig;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// The prefix of the body's tensors in `GPT2LMHeadModel`.
const PREFIX: &str = "transformer.";

/// One tensor of the network.
struct Entry {
    /// autoreg's name.
    ours: String,
    /// A `Conv1D` weight: (in, out) in `transformers`.
    conv1d: bool,
    /// A bias, which autoreg's `bias = false` has not.
    bias: bool,
}

impl Entry {
    /// `transformers`' name.
    fn hf(&self) -> String {
        if self.ours == "lm_head.weight" { self.ours.clone() } else { format!("{PREFIX}{}", self.ours) }
    }
}

/// Every tensor of a GPT-2 of `model`'s shape, biases included.
fn layout(model: &ModelConfig) -> Vec<Entry> {
    let entry = |ours: String, conv1d: bool, bias: bool| Entry { ours, conv1d, bias };
    let norm = |name: &str| [entry(format!("{name}.weight"), false, false), entry(format!("{name}.bias"), false, true)];
    let linear =
        |name: &str| [entry(format!("{name}.weight"), true, false), entry(format!("{name}.bias"), false, true)];
    let mut all = vec![entry("wte.weight".into(), false, false), entry("wpe.weight".into(), false, false)];
    for i in 0..model.n_layer {
        all.extend(norm(&format!("h.{i}.ln_1")));
        all.extend(linear(&format!("h.{i}.attn.c_attn")));
        all.extend(linear(&format!("h.{i}.attn.c_proj")));
        all.extend(norm(&format!("h.{i}.ln_2")));
        all.extend(linear(&format!("h.{i}.mlp.c_fc")));
        all.extend(linear(&format!("h.{i}.mlp.c_proj")));
    }
    all.extend(norm("ln_f"));
    if !model.tie_head {
        all.push(entry("lm_head.weight".into(), false, false));
    }
    all
}

/// Whether `name` is a buffer of `transformers`' GPT-2, not a weight: the causal mask
/// `h.N.attn.bias` and `h.N.attn.masked_bias` of older versions.
fn is_buffer(name: &str) -> bool {
    let name = name.strip_prefix(PREFIX).unwrap_or(name);
    name.strip_prefix("h.").and_then(|rest| rest.split_once('.')).is_some_and(|(layer, rest)| {
        layer.parse::<u32>().is_ok() && (rest == "attn.bias" || rest == "attn.masked_bias")
    })
}

/// The weights file of a `transformers` folder: `model.safetensors`, else
/// `pytorch_model.bin`; tensors by their names there, in f32.
pub fn read_weights(dir: &Path) -> Result<(PathBuf, Vec<(String, Tensor)>), HfError> {
    let safetensors = dir.join("model.safetensors");
    let bin = dir.join("pytorch_model.bin");
    let (path, read) = if safetensors.is_file() {
        let read = Tensor::read_safetensors(&safetensors);
        (safetensors, read)
    } else if bin.is_file() {
        let read = Tensor::loadz_multi(&bin);
        (bin, read)
    } else {
        return Err(HfError::file(dir, "holds neither model.safetensors nor pytorch_model.bin"));
    };
    let named = read.map_err(|e| {
        let hint = if path.ends_with("pytorch_model.bin") {
            ": libtorch reads a pickle of a plain dict of tensors only, and transformers pickles an OrderedDict; \
             convert it once with `python -c \"import torch, safetensors.torch as s; \
             s.save_file(dict(torch.load('pytorch_model.bin')), 'model.safetensors')\"` in the folder"
        } else {
            ""
        };
        HfError::file(&path, format!("cannot be read: {e}{hint}"))
    })?;
    let named = named.into_iter().map(|(name, t)| (name, t.to_kind(Kind::Float))).collect();
    Ok((path, named))
}

/// The tensors of `named` (`transformers`' names, read from `path`) as autoreg's, for a
/// decoder of `model` whose token `i` is the source's token `rows[i]`. Every tensor the
/// decoder needs must be there with its shape; none may be left over but buffers, and
/// the head of a tied model.
pub fn from_hf(
    named: Vec<(String, Tensor)>,
    path: &Path,
    model: &ModelConfig,
    vocab_size: i64,
    rows: &[u32],
) -> Result<Vec<(String, Tensor)>, HfError> {
    let mut named: HashMap<String, Tensor> = named
        .into_iter()
        .filter(|(name, _)| !is_buffer(name))
        .map(|(name, t)| (name.strip_prefix(PREFIX).map_or(name.clone(), str::to_owned), t))
        .collect();
    if model.tie_head {
        named.remove("lm_head.weight");
    }
    let (c, t) = (model.n_embd, model.block_size);
    let rows = Tensor::from_slice(&rows.iter().map(|&r| i64::from(r)).collect::<Vec<_>>());
    let mut out = Vec::new();
    for entry in layout(model) {
        let Some(tensor) = named.remove(&entry.ours) else {
            return Err(HfError::file(path, format!("has no `{}`, which the model needs", entry.hf())));
        };
        let want = hf_shape(&entry.ours, c, t, vocab_size);
        if tensor.size() != want {
            return Err(HfError::file(
                path,
                format!("`{}` has shape {:?}, config.json says {want:?}", entry.hf(), tensor.size()),
            ));
        }
        let tensor = match entry.ours.as_str() {
            "wte.weight" | "lm_head.weight" => tensor.index_select(0, &rows),
            _ if entry.conv1d => tensor.transpose(0, 1).contiguous(),
            _ => tensor,
        };
        out.push((entry.ours, tensor));
    }
    if let Some(name) = named.keys().min() {
        return Err(HfError::file(path, format!("holds `{name}`, which a GPT-2 of config.json has no place for")));
    }
    Ok(out)
}

/// The shape `transformers` gives autoreg's tensor `ours`.
fn hf_shape(ours: &str, c: i64, t: i64, vocab_size: i64) -> Vec<i64> {
    let last = ours.rsplit('.').nth(1).unwrap_or_default();
    let is_bias = ours.ends_with(".bias");
    match (last, is_bias) {
        ("wte", _) | ("lm_head", _) => vec![vocab_size, c],
        ("wpe", _) => vec![t, c],
        ("c_attn", false) => vec![c, 3 * c],
        ("c_attn", true) => vec![3 * c],
        ("c_fc", false) => vec![c, 4 * c],
        ("c_fc", true) => vec![4 * c],
        ("c_proj", false) if ours.contains(".mlp.") => vec![4 * c, c],
        ("c_proj", false) => vec![c, c],
        _ => vec![c],
    }
}

/// autoreg's variables (`vars`, by name) of a decoder of `model`: every tensor of GPT-2
/// in autoreg's layout, on the CPU in f32, with zeros for the biases that `bias = false`
/// leaves out. Each comes with autoreg's name.
fn complete(vars: &HashMap<String, Tensor>, model: &ModelConfig) -> Result<Vec<(Entry, Tensor)>, HfError> {
    let mut out = Vec::new();
    for entry in layout(model) {
        let tensor = match vars.get(&entry.ours) {
            Some(t) => t.to_device(tch::Device::Cpu).to_kind(Kind::Float),
            None if entry.bias && !model.bias => {
                Tensor::zeros(hf_shape(&entry.ours, model.n_embd, model.block_size, 0), (Kind::Float, tch::Device::Cpu))
            }
            None => return Err(HfError::Unsupported(format!("the model has no `{}`", entry.ours))),
        };
        out.push((entry, tensor));
    }
    Ok(out)
}

/// autoreg's variables (`vars`, by name) in `transformers`' names and layout, contiguous.
pub fn to_hf(vars: &HashMap<String, Tensor>, model: &ModelConfig) -> Result<Vec<(String, Tensor)>, HfError> {
    let tensors = complete(vars, model)?.into_iter();
    Ok(tensors.map(|(e, t)| (e.hf(), if e.conv1d { t.transpose(0, 1) } else { t }.contiguous())).collect())
}

/// autoreg's variables (`vars`, by name) in llama.cpp's names for GPT-2
/// (`blk.0.attn_qkv.weight`); the layout is autoreg's, (out, in), which GGUF gives as
/// the dimensions (in, out).
pub fn to_gguf(vars: &HashMap<String, Tensor>, model: &ModelConfig) -> Result<Vec<(String, Tensor)>, HfError> {
    let name = |ours: &str| -> String {
        let (stem, kind) = ours.rsplit_once('.').unwrap_or((ours, ""));
        let stem = match stem.split_once('.') {
            Some(("h", rest)) => {
                let (i, part) = rest.split_once('.').unwrap_or((rest, ""));
                let part = match part {
                    "ln_1" => "attn_norm",
                    "attn.c_attn" => "attn_qkv",
                    "attn.c_proj" => "attn_output",
                    "ln_2" => "ffn_norm",
                    "mlp.c_fc" => "ffn_up",
                    "mlp.c_proj" => "ffn_down",
                    other => other,
                };
                format!("blk.{i}.{part}")
            }
            _ => match stem {
                "wte" => "token_embd",
                "wpe" => "position_embd",
                "ln_f" => "output_norm",
                "lm_head" => "output",
                other => other,
            }
            .to_owned(),
        };
        format!("{stem}.{kind}")
    };
    Ok(complete(vars, model)?.into_iter().map(|(e, t)| (name(&e.ours), t.contiguous())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_told_from_weights() {
        assert!(is_buffer("transformer.h.3.attn.bias") && is_buffer("h.0.attn.masked_bias"));
        assert!(!is_buffer("transformer.h.3.attn.c_attn.bias") && !is_buffer("h.x.attn.bias"));
    }

    #[test]
    fn a_round_trip_through_transformers_names_gives_the_same_tensors() {
        let model = ModelConfig { n_layer: 2, n_head: 2, n_embd: 8, block_size: 6, bias: true, ..Default::default() };
        let vocab = 5;
        let vars: HashMap<String, Tensor> = layout(&model)
            .iter()
            .map(|e| {
                let mut shape = hf_shape(&e.ours, 8, 6, vocab);
                if e.conv1d {
                    shape.reverse();
                }
                (e.ours.clone(), Tensor::randn(shape, (Kind::Float, tch::Device::Cpu)))
            })
            .collect();
        let hf = to_hf(&vars, &model).unwrap();
        assert!(hf.iter().any(|(n, t)| n == "transformer.h.1.attn.c_attn.weight" && t.size() == [8, 24]));
        let rows = [4, 3, 2, 1, 0];
        let back = from_hf(hf, Path::new("x"), &model, vocab, &rows).unwrap();
        for (name, t) in back {
            let want = &vars[&name];
            let want = if name == "wte.weight" { want.flip([0]) } else { want.shallow_clone() };
            assert!(t.equal(&want), "{name}");
        }
    }

    #[test]
    fn a_missing_or_misshapen_tensor_is_named() {
        let model = ModelConfig { n_layer: 1, n_head: 2, n_embd: 8, block_size: 6, bias: true, ..Default::default() };
        let zeros = |s: &[i64]| Tensor::zeros(s, (Kind::Float, tch::Device::Cpu));
        let err = from_hf(vec![("wte.weight".into(), zeros(&[5, 8]))], Path::new("m"), &model, 5, &[0, 1, 2, 3, 4]);
        assert_eq!(err.unwrap_err().to_string(), "m: has no `transformer.wpe.weight`, which the model needs");
        let err = from_hf(vec![("wte.weight".into(), zeros(&[5, 9]))], Path::new("m"), &model, 5, &[0]);
        assert!(
            err.unwrap_err().to_string().contains("`transformer.wte.weight` has shape [5, 9], config.json says [5, 8]")
        );
    }
}
