//! A Hugging Face `tokenizer.json` that spells a text tokenizer's ids, for tools that
//! load models with their tokenizer (`transformers`' `AutoTokenizer`).

use crate::alphabet::Alphabet;
use crate::{Bpe, atom_name};
use autoreg_tokens::Modality;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, DecoderWrapper};

/// The `tokenizer.json` that gives `base`'s ids, then `bpe`'s, on text: byte-level BPE
/// (GPT-2's) over a modality of bytes, with or without merges; one token per character
/// over text's characters, without merges. The class tokens and specials are special
/// tokens named as autoreg names them (`<bos>`). `None` for ids that are not text.
pub fn hf_tokenizer(base: &dyn Modality, bpe: Option<&Bpe>) -> Result<Option<serde_json::Value>, String> {
    let rule = base.merge_rule();
    if let Some(bpe) = bpe {
        return Ok((rule.bytes).then(|| bpe.hf_json().clone()));
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

/// `bytes` in GPT-2's byte-level alphabet, each byte as its symbol: how byte-level BPE
/// vocabularies (GPT-2's, llama.cpp's `gpt2`) spell a token (of text, its UTF-8 bytes).
pub fn byte_level_spelling(bytes: &[u8]) -> Result<String, String> {
    Ok(Alphabet::new(true, 256).map_err(|e| e.to_string())?.byte_string(bytes))
}
