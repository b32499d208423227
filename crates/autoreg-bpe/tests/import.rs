//! A Hugging Face byte-level BPE (GPT-2's form) taken into autoreg's ids, and the
//! tokenizers that can not be.

use autoreg_bpe::{Bpe, byte_level_spelling};
use autoreg_text::TextTokenizer;
use autoreg_tokens::IdModel;
use serde_json::json;

/// A GPT-2 style `tokenizer.json`: the 256 byte symbols in GPT-2's order (printable bytes
/// first, as GPT-2's own vocabulary has them), `<|endoftext|>` last, and two merges.
fn gpt2_like(added: &[&str]) -> serde_json::Value {
    let mut bytes: Vec<u8> = (0..=255).collect();
    bytes.sort_by_key(|&b| !(b'!'..=b'~').contains(&b)); // another order than autoreg's
    let mut vocab = serde_json::Map::new();
    for (id, b) in bytes.iter().enumerate() {
        vocab.insert(byte_level_spelling(&[*b]).unwrap(), id.into());
    }
    let the = [b"t", b"h", b"e"].map(|s| byte_level_spelling(s).unwrap());
    vocab.insert(format!("{}{}", the[0], the[1]), 256.into());
    vocab.insert(format!("{}{}{}", the[0], the[1], the[2]), 257.into());
    let added: Vec<serde_json::Value> = added
        .iter()
        .enumerate()
        .map(|(k, content)| {
            vocab.insert((*content).to_owned(), (258 + k).into());
            json!({"id": 258 + k, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added, "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": [[the[0].clone(), the[1].clone()], [format!("{}{}", the[0], the[1]), the[2].clone()]]}
    })
}

#[test]
fn gpt2s_merges_come_in_with_autoregs_ids_and_a_map_back_to_the_source_ids() {
    let base = TextTokenizer::byte();
    let json = gpt2_like(&["<|endoftext|>"]).to_string();
    let (bpe, source, source_vocab) = Bpe::import_hf(&json, &base).unwrap();
    assert_eq!(source_vocab, 259);
    assert_eq!(bpe.vocab_size(), 256 + 3 + 2, "bytes, <bos> <eos> <pad>, two merges");
    // Bytes keep their values; the specials are the end of text; merges follow in order.
    assert_eq!(source[usize::from(b'!')], 0);
    assert_eq!(&source[256..259], &[258, 258, 258]);
    assert_eq!(&source[259..], &[256, 257]);
    // GPT-2's words: "the", " the"; t+h then th+e, the space alone.
    let the: Vec<u32> = b"the the".iter().map(|&b| u32::from(b)).collect();
    assert_eq!(bpe.merge(&the), [260, u32::from(b' '), 260]);
    let mut expanded = Vec::new();
    assert!(bpe.expand(260, &mut expanded));
    assert_eq!(expanded, [116, 104, 101]);
}

#[test]
fn tokenizers_that_are_not_byte_level_bpe_are_named() {
    let base = TextTokenizer::byte();
    let err = |json: serde_json::Value| Bpe::import_hf(&json.to_string(), &base).unwrap_err();
    assert!(err(gpt2_like(&[])).contains("exactly one added token, the end of text"));
    assert!(err(gpt2_like(&["<a>", "<b>"])).contains("it has 2: [\"<a>\", \"<b>\"]"));
    let mut whitespace = gpt2_like(&["<|endoftext|>"]);
    whitespace["pre_tokenizer"] = json!({"type": "Whitespace"});
    assert!(err(whitespace).contains("not ByteLevel"));
    let mut missing = gpt2_like(&["<|endoftext|>"]);
    let zero = byte_level_spelling(&[0]).unwrap();
    missing["model"]["vocab"].as_object_mut().unwrap().remove(&zero);
    assert!(err(missing).contains("lacks the byte 0x00"));
    assert!(Bpe::import_hf("{", &base).unwrap_err().starts_with("not a tokenizer.json"));
    let chars = TextTokenizer::char(vec!['a', 'b']).unwrap();
    assert!(
        Bpe::import_hf(&gpt2_like(&["<|endoftext|>"]).to_string(), &chars).unwrap_err().contains("goes over bytes")
    );
}
