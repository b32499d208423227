//! BPE end to end through the `autoreg` binary: a tiny MIDI model and a tiny code model
//! with `[tokenizer.bpe]` train, sample files that parse, continue a prompt, and a file
//! of another language comes back byte for byte through `encode --ids | decode -`.

use crate::common;
use autoreg::midi::Score;
use common::{ok, shared_data, tiny_config};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Copies every `step`-th file of `from` with extension `ext` into `to`, `count` at most.
fn copy_some(from: &Path, to: &Path, ext: &str, step: usize, count: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(to).unwrap();
    let files = autoreg_data::list_files(from, &[ext.to_owned()]).unwrap();
    files
        .iter()
        .step_by(step)
        .take(count)
        .enumerate()
        .map(|(i, f)| {
            let dest = to.join(format!("{i:03}-{}", f.file_name().unwrap().to_string_lossy()));
            std::fs::copy(f, &dest).unwrap();
            dest
        })
        .collect()
}

/// The saved tokenizer of a run, as JSON.
fn tokenizer_json(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("tokenizer.json")).unwrap()).unwrap()
}

#[test]
fn a_tiny_bpe_midi_model_samples_tunes_that_parse() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    copy_some(&shared_data("nottingham/melody"), &p.join("data/melody"), "mid", 25, 40);
    let data = "path = \"melody\"\nsplit = \"files\"\nval_fraction = 0.1";
    let tokenizer = "kind = \"midi\"\nscheme = \"remi\"\nmax_bars = 8\ntranspose = 2";
    let extra = "[tokenizer.bpe]\nvocab_size = 700\n\n[sample]\nnum = 3\nmax_tokens = 120\nmin_tokens = 8\n";
    let config = tiny_config(p, &p.join("data"), "tunes", data, tokenizer, 64, extra);
    ok(p, &["train", config.to_str().unwrap()]);
    let run = p.join("runs/tunes");
    let saved = tokenizer_json(&run);
    assert_eq!(saved["format"], 3);
    assert_eq!(saved["bpe"]["split"], "Bar", "MIDI merges stop at bar lines");
    let info = ok(p, &["info", run.to_str().unwrap()]);
    assert!(info.contains("tokenizer  midi (700 tokens)") && info.contains("bpe "), "{info}");

    ok(p, &["sample", run.to_str().unwrap(), "--seed", "2", "--out", "out"]);
    for i in 0..3 {
        let mid = p.join(format!("out/tunes-{i}.mid"));
        let bytes = std::fs::read(&mid).unwrap();
        Score::from_midi(&bytes, &mid.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.join(format!("out/tunes-{i}.png")).is_file());
    }
    // Resuming keeps the learned merges.
    ok(p, &["train", "--resume", run.to_str().unwrap(), "--set", "train.max_steps=24"]);
    assert_eq!(tokenizer_json(&run), saved);
}

#[test]
fn a_tiny_code_model_continues_a_file_and_other_languages_come_back_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let files = copy_some(&shared_data("python-stdlib"), &p.join("data/code"), "py", 4, 30);
    let data = "path = \"code\"\nsplit = \"files\"\nval_fraction = 0.2";
    let extra = "[tokenizer.bpe]\nvocab_size = 800\n\n[sample]\nnum = 2\nmax_tokens = 60\n";
    let config = tiny_config(p, &p.join("data"), "py", data, "kind = \"code\"\nextensions = [\"py\"]", 64, extra);
    ok(p, &["train", config.to_str().unwrap()]);
    let run = p.join("runs/py");
    let r = run.to_str().unwrap();

    // Samples are .py files, printed too; each comes back through the tokenizer.
    let printed = ok(p, &["sample", r, "--seed", "1", "--out", "out"]);
    for i in 0..2 {
        let sample = p.join(format!("out/py-{i}.py"));
        let bytes = std::fs::read(&sample).unwrap();
        assert!(printed.contains(String::from_utf8_lossy(&bytes).as_ref()));
        let ids = ok(p, &["encode", r, sample.to_str().unwrap(), "--ids"]);
        assert!(ids.split_whitespace().count() >= 2);
    }

    // A prompt file is continued: the sample starts with it.
    let snippet = p.join("snippet.py");
    std::fs::write(&snippet, "import os\n\ndef main():\n    ").unwrap();
    ok(p, &["sample", r, "--prompt", snippet.to_str().unwrap(), "--num", "1", "--out", "cont"]);
    let continued = std::fs::read(p.join("cont/py.py")).unwrap();
    assert!(continued.starts_with(b"import os\n\ndef main():\n    "), "{}", String::from_utf8_lossy(&continued));

    // JavaScript, and bytes that are not UTF-8, through a Python-trained tokenizer.
    let js = p.join("other.js");
    let mut source = b"// \xc3\xa9t\xc3\xa9\nfunction add(a, b) {\n\treturn a + b; \xff\xfe\n}\n".to_vec();
    source.extend(std::fs::read(&files[0]).unwrap());
    std::fs::write(&js, &source).unwrap();
    let ids = ok(p, &["encode", r, js.to_str().unwrap(), "--ids"]);
    let mut decode = Command::new(env!("CARGO_BIN_EXE_autoreg"))
        .current_dir(p)
        .args(["decode", r, "-", "--out", "back.js"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    decode.stdin.take().unwrap().write_all(ids.as_bytes()).unwrap();
    let out = decode.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(p.join("back.js")).unwrap(), source);
    // Merged: fewer ids than bytes.
    assert!(ids.split_whitespace().count() * 2 < source.len(), "{} ids", ids.split_whitespace().count());
}
