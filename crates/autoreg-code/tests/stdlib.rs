//! The code tokenizer with BPE on the Python 3.11 standard library (`python-stdlib`
//! under the data root): every file comes back byte for byte, and merges shorten it.

use autoreg_bpe::{Bpe, BpeConfig};
use autoreg_code::{CodeConfig, CodeTokenizer};
use autoreg_tokens::{IdModel, ModalityBuilder, Pipeline, Source};
use std::path::PathBuf;

/// Every `.py` file of the standard library, sorted.
fn stdlib_files() -> Vec<PathBuf> {
    let root = autoreg_data::find_data("python-stdlib").expect("python-stdlib under the data root");
    autoreg_data::list_files(&root, &["py".to_owned()]).unwrap()
}

fn base_docs(tok: &CodeTokenizer, files: &[PathBuf]) -> Vec<Vec<u32>> {
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).unwrap();
            let mut docs = autoreg_tokens::Modality::encode(tok, &Source::new(f, &bytes)).unwrap();
            assert_eq!(docs.len(), 1, "one document per file");
            docs.remove(0)
        })
        .collect()
}

#[test]
fn every_stdlib_file_comes_back_byte_exact_through_bpe() {
    let files = stdlib_files();
    // The whole library under AUTOREG_DATA; the part the checkout carries otherwise.
    let expected = if autoreg_data::full_data_sets() { 638 } else { 112 };
    assert_eq!(files.len(), expected, "the Python 3.11 standard library as the data READMEs list it");
    let tok = CodeConfig::default().build(&files).unwrap();
    let docs = base_docs(&tok, &files);
    // Merges learned on every fourth file, applied to all of them.
    let config = BpeConfig { vocab_size: 2048, min_frequency: 2, split: None };
    let bpe = Bpe::learn(&config, &tok, docs.iter().step_by(4).map(Vec::as_slice)).unwrap();
    assert_eq!(bpe.vocab_size(), 2048);
    let pipeline = Pipeline::new(&tok, &bpe);
    let (mut bytes, mut merged) = (0, 0);
    for (file, doc) in files.iter().zip(&docs) {
        let ids = bpe.merge(doc);
        assert_eq!(pipeline.expand(&ids), (doc.clone(), 0), "{}", file.display());
        let decoded = pipeline.decode(&ids).unwrap();
        assert_eq!(decoded.bytes, std::fs::read(file).unwrap(), "{}", file.display());
        assert_eq!((decoded.extension.as_str(), decoded.repairs), ("py", 0));
        bytes += doc.len() - 3;
        merged += ids.len() - 3;
    }
    // Merges learned on the 28 files of the carried part shorten less than on 160.
    let per_token = bytes as f64 / merged as f64;
    let floor = if autoreg_data::full_data_sets() { 3.0 } else { 2.5 };
    assert!(per_token > floor, "{per_token:.2} bytes per token with 2048 ids");
}

/// Fill in the middle on stdlib files through BPE: every cut falls between two merged
/// ids on a line boundary (right before a newline, or inside the indentation after
/// one), and most lines of a file have one.
#[test]
fn fill_in_the_middle_cuts_whole_lines_between_merged_ids() {
    let files: Vec<PathBuf> = stdlib_files().into_iter().step_by(8).collect();
    let tok = CodeConfig::default().build(&files).unwrap();
    let docs = base_docs(&tok, &files);
    let config = BpeConfig { vocab_size: 1024, min_frequency: 2, split: None };
    let bpe = Bpe::learn(&config, &tok, docs.iter().map(Vec::as_slice)).unwrap();
    let pipeline = Pipeline::new(&tok, &bpe).with_fim();
    let (mut lines, mut cut_lines) = (0, 0);
    for (file, doc) in files.iter().zip(&docs) {
        let ids = bpe.merge(doc);
        let bytes = std::fs::read(file).unwrap();
        // Where each merged id starts, in bytes of the file (after BOS and <py>).
        let mut starts = vec![0usize];
        for &id in &ids[2..] {
            let mut base = Vec::new();
            bpe.expand(id, &mut base);
            starts.push(starts.last().unwrap() + base.iter().filter(|&&b| b < 256).count());
        }
        let cuts = pipeline.unit_cuts(&ids, true);
        for &c in &cuts {
            let at = starts[c.max(2) - 2];
            let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |n| n + 1);
            let on_line = at == bytes.len()
                || bytes[at] == b'\n'
                || bytes[line_start..at].iter().all(|&b| b == b' ' || b == b'\t');
            assert!(on_line, "{}: a cut at byte {at} inside a line", file.display());
        }
        lines += bytes.iter().filter(|&&b| b == b'\n').count();
        cut_lines += cuts.len();
    }
    assert!(cut_lines as f64 > 0.9 * lines as f64, "{cut_lines} cuts for {lines} lines");
}
