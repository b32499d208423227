//! A Hugging Face `tokenizer.json` that spells a text tokenizer's ids, for tools that
//! load models with their tokenizer (`transformers`' `AutoTokenizer`).

use crate::alphabet::Alphabet;
use crate::{Bpe, atom_name};
use autoreg_tokens::{Modality, Split};
use std::collections::HashMap;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, DecoderWrapper};

/// The `tokenizer.json` that gives `base`'s ids, then `bpe`'s, on text: byte-level BPE
/// (GPT-2's) over a modality of bytes, with or without merges; over text's characters,
/// BPE of characters, or one token per character without merges. The class tokens and
/// specials are special tokens named as autoreg names them (`<bos>`). `None` for ids
/// that are not text, and for merges of characters that stop at a token (`split`).
pub fn hf_tokenizer(base: &dyn Modality, bpe: Option<&Bpe>) -> Result<Option<serde_json::Value>, String> {
    let rule = base.merge_rule();
    if let Some(bpe) = bpe {
        return match (rule.bytes, base.extras().characters, bpe.split()) {
            (true, ..) => Ok(Some(bpe.hf_json().clone())),
            (false, Some(characters), Split::None) => Ok(spelled(bpe.hf_json(), characters.chars())),
            _ => Ok(None),
        };
    }
    let mut vocab = Vocab::new();
    let decoder: DecoderWrapper = if rule.bytes {
        let alphabet = Alphabet::new(true, rule.symbols).map_err(|e| e.to_string())?;
        vocab.extend((0..rule.symbols).map(|id| (alphabet.string(&[id]), id)));
        ByteLevel::new(false, true, true).into()
    } else if let Some(characters) = base.extras().characters {
        vocab.extend(characters.chars().iter().zip(0..).map(|(c, id)| (c.to_string(), id)));
        Fuse::new().into()
    } else {
        return Ok(None);
    };
    let symbols = vocab.len() as u32;
    let model = BPE::builder().vocab_and_merges(vocab, Vec::new()).build().map_err(|e| e.to_string())?;
    let mut hf = tokenizers::Tokenizer::new(model);
    if rule.bytes {
        hf.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    }
    hf.with_decoder(Some(decoder));
    let atoms = (symbols..base.vocab_size() as u32).map(|id| AddedToken::from(atom_name(base, id), true));
    hf.add_special_tokens(atoms).map_err(|e| e.to_string())?;
    let json = hf.to_string(false).map_err(|e| e.to_string())?;
    serde_json::from_str(&json).map(Some).map_err(|e| e.to_string())
}

/// The merges of a BPE stage over text's characters, `json` (its `tokenizer.json`, whose
/// symbols are private-use scalars), spelled in `chars`: the same ids from text, one word
/// of the whole input, decoded by joining the tokens. `None` when a spelled token would
/// be another's (a merge spelling a special token's name).
fn spelled(json: &serde_json::Value, chars: &[char]) -> Option<serde_json::Value> {
    let alphabet = Alphabet::new(false, chars.len() as u32).ok()?;
    let spell = |s: &str| -> String {
        alphabet.ids(s).map_or_else(|| s.to_owned(), |ids| ids.iter().map(|&i| chars[i as usize]).collect())
    };
    let mut json = json.clone();
    let vocab = json["model"]["vocab"].as_object()?;
    let spelled: serde_json::Map<String, serde_json::Value> =
        vocab.iter().map(|(token, id)| (spell(token), id.clone())).collect();
    if spelled.len() != vocab.len() {
        return None;
    }
    let merges: Vec<serde_json::Value> = json["model"]["merges"]
        .as_array()?
        .iter()
        .map(|pair| Some(serde_json::json!([spell(pair.get(0)?.as_str()?), spell(pair.get(1)?.as_str()?)])))
        .collect::<Option<_>>()?;
    json["model"]["vocab"] = spelled.into();
    json["model"]["merges"] = merges.into();
    json["pre_tokenizer"] = serde_json::Value::Null;
    json["decoder"] = serde_json::to_value(DecoderWrapper::from(Fuse::new())).ok()?;
    Some(json)
}

/// `bytes` in GPT-2's byte-level alphabet, each byte as its symbol: how byte-level BPE
/// vocabularies (GPT-2's, llama.cpp's `gpt2`) spell a token (of text, its UTF-8 bytes).
pub fn byte_level_spelling(bytes: &[u8]) -> Result<String, String> {
    Ok(Alphabet::new(true, 256).map_err(|e| e.to_string())?.byte_string(bytes))
}

/// What a `tokenizer.json` spells: the string of each id of its model's vocabulary, that
/// of each of its added tokens, and its merges as `"a b"`, in order.
pub fn spellings(tokenizer: &serde_json::Value) -> (HashMap<u32, String>, HashMap<u32, String>, Vec<String>) {
    let model = tokenizer["model"]["vocab"].as_object().into_iter().flatten();
    let vocab = model.filter_map(|(s, id)| Some((id.as_u64()? as u32, s.clone())));
    let added = tokenizer["added_tokens"].as_array().into_iter().flatten();
    let added = added.filter_map(|t| Some((t["id"].as_u64()? as u32, t["content"].as_str()?.to_owned())));
    let merges = tokenizer["model"]["merges"].as_array().into_iter().flatten();
    let merges = merges.filter_map(|m| match m {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(pair) => Some(format!("{} {}", pair.first()?.as_str()?, pair.get(1)?.as_str()?)),
        _ => None,
    });
    (vocab.collect(), added.collect(), merges.collect())
}
