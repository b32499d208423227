//! The `tokenizer.json` that `autoreg export` writes for text gives autoreg's ids in
//! Hugging Face's `tokenizers`: bytes and characters, with and without merges.

use autoreg_bpe::{Bpe, BpeConfig, hf_tokenizer};
use autoreg_text::{Level, TextConfig};
use autoreg_tokens::{IdModel, Identity, Modality, ModalityBuilder, Pipeline, Source};
use std::path::Path;

const TRAIN: &str = "the cat sat on the mat; the dog sat on the log. ";
const TEXT: &str = "the dog sat on the cat, the mat on the log.\nnew line";

/// The ids of `TEXT` under `base` then `bpe` (without BOS and EOS), and under the
/// exported `tokenizer.json` in the `tokenizers` library.
fn both(base: &dyn Modality, bpe: Option<&Bpe>) -> (Vec<u32>, Vec<u32>) {
    let identity = Identity { vocab_size: base.vocab_size() };
    let ids: &dyn IdModel = match bpe {
        Some(bpe) => bpe,
        None => &identity,
    };
    let pipeline = Pipeline::new(base, ids);
    let ours = pipeline.encode(&Source::new(Path::new("t.txt"), TEXT.as_bytes())).unwrap().remove(0);
    let json = hf_tokenizer(base, bpe).unwrap().expect("a text tokenizer");
    let theirs: tokenizers::Tokenizer = json.to_string().parse().unwrap();
    let encoded = theirs.encode(TEXT, false).unwrap();
    assert_eq!(theirs.decode(encoded.get_ids(), false).unwrap(), TEXT, "decodes back");
    (ours[1..ours.len() - 1].to_vec(), encoded.get_ids().to_vec())
}

fn learned(base: &dyn Modality) -> Bpe {
    let doc: Vec<u32> = Pipeline::new(base, &Identity { vocab_size: base.vocab_size() })
        .encode(&Source::new(Path::new("train.txt"), TRAIN.repeat(20).as_bytes()))
        .unwrap()
        .remove(0);
    let config = BpeConfig { vocab_size: base.vocab_size() + 12, min_frequency: 2, split: None };
    Bpe::learn(&config, base, std::iter::once(doc.as_slice())).unwrap()
}

#[test]
fn bytes_and_characters_with_and_without_merges_give_autoregs_ids() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("train.txt");
    std::fs::write(&file, format!("{TRAIN}{TEXT}")).unwrap();
    for level in [Level::Byte, Level::Char] {
        let base = TextConfig { level }.build(std::slice::from_ref(&file)).unwrap();
        let (ours, theirs) = both(&base, None);
        assert_eq!(ours, theirs, "{level:?}, no merges");
        assert_eq!(ours.len(), TEXT.len(), "one id per byte or character here");
        let bpe = learned(&base);
        let (ours, theirs) = both(&base, Some(&bpe));
        assert_eq!(ours, theirs, "{level:?} with merges");
        assert!(ours.len() < TEXT.len() * 3 / 4, "{level:?}: the merges merge ({} ids)", ours.len());
    }
}
