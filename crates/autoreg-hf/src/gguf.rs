//! A GGUF file (version 3), as llama.cpp reads it: key-value metadata, then f32 tensors.
//!
//! Written by hand: the format is a little-endian header of typed key-values and tensor
//! descriptions, then the raw tensors, each aligned to 32 bytes (see ggml's
//! `docs/gguf.md`). The Rust crates that write it come inside whole tensor libraries
//! (candle), more than this needs.

use crate::HfError;
use autoreg_model::ModelConfig;
use autoreg_tokens::write_atomic_with;
use std::path::Path;
use tch::Tensor;

/// The alignment of tensor data (`general.alignment`'s default).
const ALIGNMENT: u64 = 32;

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `GGUF_TYPE_UINT32`.
    U32(u32),
    /// `GGUF_TYPE_FLOAT32`.
    F32(f32),
    /// `GGUF_TYPE_STRING`.
    Str(String),
    /// An array of strings.
    Strs(Vec<String>),
    /// An array of `GGUF_TYPE_INT32`.
    I32s(Vec<i32>),
}

/// `GGUF_TYPE_*` codes.
const UINT32: u32 = 4;
const INT32: u32 = 5;
const FLOAT32: u32 = 6;
const STRING: u32 = 8;
const ARRAY: u32 = 9;
/// `GGML_TYPE_F32`.
const GGML_F32: u32 = 0;

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

impl Value {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::U32(v) => {
                out.extend(UINT32.to_le_bytes());
                out.extend(v.to_le_bytes());
            }
            Self::F32(v) => {
                out.extend(FLOAT32.to_le_bytes());
                out.extend(v.to_le_bytes());
            }
            Self::Str(s) => {
                out.extend(STRING.to_le_bytes());
                string(out, s);
            }
            Self::Strs(items) => {
                out.extend(ARRAY.to_le_bytes());
                out.extend(STRING.to_le_bytes());
                out.extend((items.len() as u64).to_le_bytes());
                items.iter().for_each(|s| string(out, s));
            }
            Self::I32s(items) => {
                out.extend(ARRAY.to_le_bytes());
                out.extend(INT32.to_le_bytes());
                out.extend((items.len() as u64).to_le_bytes());
                items.iter().for_each(|v| out.extend(v.to_le_bytes()));
            }
        }
    }
}

/// A model's vocabulary as llama.cpp's `gpt2` tokenizer holds it.
#[derive(Clone, Debug, Default)]
pub struct Vocabulary {
    /// Every id's string, in GPT-2's byte-level alphabet for text.
    pub tokens: Vec<String>,
    /// Whether each id is a control token (a special, a class).
    pub control: Vec<bool>,
    /// The merges, as `"a b"`, in order.
    pub merges: Vec<String>,
    /// The ids of begin of sequence, end of sequence and padding.
    pub specials: [u32; 3],
}

/// The metadata of llama.cpp's GPT-2 architecture (`gpt2.*`, `tokenizer.ggml.*`) for a
/// decoder of `model` named `name`, all in f32, over `vocabulary`.
pub fn gpt2_metadata(model: &ModelConfig, name: &str, vocabulary: Vocabulary) -> Vec<(String, Value)> {
    let u32_of = |v: i64| Value::U32(v as u32);
    let Vocabulary { tokens, control, merges, specials: [bos, eos, pad] } = vocabulary;
    let types = control.iter().map(|&c| if c { 3 } else { 1 }).collect(); // llama.cpp's CONTROL, NORMAL
    let metadata = [
        ("general.architecture", Value::Str("gpt2".into())),
        ("general.name", Value::Str(name.into())),
        ("general.file_type", Value::U32(0)), // all f32
        ("gpt2.context_length", u32_of(model.block_size)),
        ("gpt2.embedding_length", u32_of(model.n_embd)),
        ("gpt2.feed_forward_length", u32_of(4 * model.n_embd)),
        ("gpt2.block_count", u32_of(model.n_layer)),
        ("gpt2.attention.head_count", u32_of(model.n_head)),
        ("gpt2.attention.layer_norm_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", Value::Str("gpt2".into())),
        ("tokenizer.ggml.pre", Value::Str("gpt-2".into())),
        ("tokenizer.ggml.tokens", Value::Strs(tokens)),
        ("tokenizer.ggml.token_type", Value::I32s(types)),
        ("tokenizer.ggml.merges", Value::Strs(merges)),
        ("tokenizer.ggml.bos_token_id", Value::U32(bos)),
        ("tokenizer.ggml.eos_token_id", Value::U32(eos)),
        ("tokenizer.ggml.padding_token_id", Value::U32(pad)),
    ];
    metadata.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Writes `metadata` and `tensors` (contiguous f32, PyTorch's dimension order) to `path`
/// atomically (a temporary file beside it, renamed into place once complete).
pub fn write(path: &Path, metadata: &[(String, Value)], tensors: &[(String, Tensor)]) -> Result<(), HfError> {
    let mut header = Vec::new();
    header.extend(b"GGUF");
    header.extend(3u32.to_le_bytes());
    header.extend((tensors.len() as u64).to_le_bytes());
    header.extend((metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        string(&mut header, key);
        value.write(&mut header);
    }
    let mut offset = 0u64;
    for (name, tensor) in tensors {
        string(&mut header, name);
        let dims = tensor.size();
        header.extend((dims.len() as u32).to_le_bytes());
        // ggml's first dimension is the innermost: PyTorch's last.
        dims.iter().rev().for_each(|&d| header.extend((d as u64).to_le_bytes()));
        header.extend(GGML_F32.to_le_bytes());
        header.extend(offset.to_le_bytes());
        offset += (tensor.numel() as u64 * 4).next_multiple_of(ALIGNMENT);
    }
    header.resize((header.len() as u64).next_multiple_of(ALIGNMENT) as usize, 0);

    write_atomic_with(path, |out| {
        out.write_all(&header)?;
        for (name, tensor) in tensors {
            let values = Vec::<f32>::try_from(tensor.flatten(0, -1))
                .map_err(|e| std::io::Error::other(format!("tensor `{name}`: {e}")))?;
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            out.write_all(&bytes)?;
            let pad = (bytes.len() as u64).next_multiple_of(ALIGNMENT) as usize - bytes.len();
            out.write_all(&vec![0; pad])?;
        }
        Ok(())
    })
    .map_err(HfError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_and_data_follow_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).view([2, 3]);
        let meta = vec![("general.architecture".to_owned(), Value::Str("gpt2".into()))];
        write(&path, &meta, &[("w".into(), t)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], b"GGUF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 3);
        assert_eq!(u64::from_le_bytes(bytes[8..16].try_into().unwrap()), 1, "one tensor");
        // The data starts aligned, and the file ends with the six values.
        assert_eq!(bytes.len() % 32, 0);
        let data = &bytes[bytes.len() - 32..][..24];
        let values: Vec<f32> = data.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Dimensions innermost first: 3, then 2.
        let needle: Vec<u8> = [3u64, 2].iter().flat_map(|d| d.to_le_bytes()).collect();
        assert!(bytes.windows(16).any(|w| w == needle.as_slice()));
    }
}
