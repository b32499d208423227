//! The BPE part of a code tokenizer is a standard Hugging Face `tokenizer.json`: the
//! Python `tokenizers` package (installed into the project's venv by `cargo setup`)
//! loads it and gives the same ids as autoreg, file for file.

use autoreg_bpe::{Bpe, BpeConfig};
use autoreg_code::CodeConfig;
use autoreg_tokens::{IdModel, Modality, ModalityBuilder, Source};
use std::path::PathBuf;
use std::process::Command;

const ENCODE: &str = r#"
import json, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8").read()
    print(json.dumps(tok.encode(text, add_special_tokens=False).ids))
"#;

#[test]
fn python_tokenizers_loads_the_merges_and_gives_the_same_ids() {
    let root = autoreg_data::find_data("python-stdlib").unwrap();
    let files: Vec<PathBuf> = autoreg_data::list_files(&root, &["py".to_owned()]).unwrap();
    let tok = CodeConfig::default().build(&files).unwrap();
    let docs: Vec<Vec<u32>> =
        files.iter().map(|f| tok.encode(&Source::new(f, &std::fs::read(f).unwrap())).unwrap().remove(0)).collect();
    let bpe = Bpe::learn(
        &BpeConfig { vocab_size: 1500, min_frequency: 2, split: None },
        &tok,
        docs.iter().step_by(6).map(Vec::as_slice),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("tokenizer.json");
    std::fs::write(&json, bpe.hf_json().to_string()).unwrap();

    // Every 10th file that is UTF-8 (Python's tokenizers takes text).
    let sample: Vec<usize> = (0..files.len())
        .step_by(10)
        .filter(|&i| std::str::from_utf8(&std::fs::read(&files[i]).unwrap()).is_ok())
        .collect();
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let out = Command::new(&python)
        .arg("-c")
        .arg(ENCODE)
        .arg(&json)
        .args(sample.iter().map(|&i| &files[i]))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run `cargo setup`", python.display()));
    assert!(out.status.success(), "run `cargo setup` to install tokenizers: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Vec<u32>> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), sample.len());
    for (&i, theirs) in sample.iter().zip(&lines) {
        let ours = bpe.merge(&docs[i]);
        // BOS <py> ... EOS around the file's ids.
        assert_eq!(&ours[2..ours.len() - 1], theirs.as_slice(), "{}", files[i].display());
    }
}
