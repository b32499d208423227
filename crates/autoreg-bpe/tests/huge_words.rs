//! Inputs of one huge line or one huge word (a 52 MB minified file, a generated
//! identifier) are learned and merged in bounded memory and time: the byte-level
//! pre-tokenizer reads the text a window at a time and no word is longer than 1,024
//! bytes (a run between split points, 16,384 ids), so nothing is quadratic in a word's
//! length; the words are cut losslessly. Before, 52 MB of `x=1;` on one line took
//! 15 GB to learn, and 52 MB of one identifier never finished.

use autoreg_bpe::{Bpe, BpeConfig};
use autoreg_code::CodeConfig;
use autoreg_tokens::{IdModel, Modality, ModalityBuilder, Source, Split};
use std::time::{Duration, Instant};

/// The base ids of the code file `name` holding `bytes`.
fn doc(tok: &dyn Modality, name: &str, bytes: &[u8]) -> Vec<u32> {
    tok.encode(&Source::new(std::path::Path::new(name), bytes)).unwrap().remove(0)
}

/// The base ids that `merged` stands for.
fn expanded(bpe: &Bpe, merged: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    merged.iter().for_each(|&id| assert!(bpe.expand(id, &mut out), "id {id}"));
    out
}

#[test]
fn a_huge_line_and_a_huge_word_are_learned_and_merged_in_bounded_time() {
    let tok = CodeConfig::default().build(&[]).unwrap();
    let mb = 1 << 20;
    let docs = [
        doc(&tok, "ok.py", &b"def f(x):\n    return x + 1\n".repeat(200)),
        doc(&tok, "line.py", &b"x=1;".repeat(mb)),
        doc(&tok, "word.py", &b"a".repeat(4 * mb)),
        doc(&tok, "spaces.py", &b" ".repeat(mb)),
    ];
    for split in [None, Some(Split::None)] {
        let started = Instant::now();
        let config = BpeConfig { vocab_size: 400, min_frequency: 2, split: split.clone() };
        let bpe = Bpe::learn(&config, &tok, docs.iter().map(Vec::as_slice)).unwrap();
        for (i, d) in docs.iter().enumerate() {
            let merged = bpe.merge(d);
            assert_eq!(expanded(&bpe, &merged), *d, "{split:?}: merging loses nothing");
            // The long runs merge into tokens of many bytes (`x=1;` is 4 words of GPT-2's).
            if i >= 2 {
                assert!(merged.len() < d.len() / 100, "{split:?}: {} of {} ids", merged.len(), d.len());
            }
        }
        // Before, the 4 MB word alone took hours (each merge shifts the whole word).
        let took = started.elapsed();
        assert!(took < Duration::from_secs(240), "{split:?}: {took:?}");
    }
}
