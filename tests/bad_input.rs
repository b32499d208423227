//! Bad input gets a clear error naming the file or key, exit code 1, and no panic.

mod common;
use common::{Scratch, fails, ok};
use std::path::Path;

/// The 1-based line of `path` that starts with `key`.
fn line_of(path: &Path, key: &str) -> usize {
    std::fs::read_to_string(path).unwrap().lines().position(|l| l.starts_with(key)).unwrap() + 1
}

#[test]
fn unknown_toml_key() {
    let s = Scratch::new();
    let cfg = s.config("t", "[sample]\ntop_kk = 5\n");
    let err = fails(s.path(), &["train", cfg.to_str().unwrap()]);
    assert!(err.contains("t.toml") && err.contains("unknown field `top_kk`"), "{err}");
    assert!(err.contains(&format!("line {}", line_of(&cfg, "top_kk"))), "{err}");
}

#[test]
fn wrong_value_type() {
    let s = Scratch::new();
    let cfg = s.config("t", "").to_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&cfg).unwrap().replace("n_layer = 2", "n_layer = \"two\"");
    std::fs::write(&cfg, text).unwrap();
    let err = fails(s.path(), &["train", &cfg]);
    assert!(
        err.contains(&format!("line {}", line_of(cfg.as_ref(), "n_layer")))
            && err.contains("invalid type: string \"two\", expected i64"),
        "{err}"
    );
    let err = fails(s.path(), &["train", &cfg, "--set", "model.n_layer=x"]);
    assert!(err.contains("t.toml"), "{err}");
}

#[test]
fn missing_data_path() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=missing.txt"]);
    assert!(err.contains("data.path missing.txt not found") && err.contains("data.root"), "{err}");
}

#[test]
fn empty_data_set() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path().join("data/empty")).unwrap();
    std::fs::write(s.path().join("data/empty/README.md"), "not text data").unwrap();
    let cfg = s.config("t", "");
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=empty"]);
    assert!(err.contains("no .txt files in") && err.contains("empty"), "{err}");
    // Files that hold too little for one window of the model.
    std::fs::write(s.path().join("data/empty/tiny.txt"), "ab").unwrap();
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=empty"]);
    assert!(err.contains("fewer than model.block_size + 1"), "{err}");
}

#[test]
fn non_utf8_input_to_the_character_tokenizer() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path().join("data/bad")).unwrap();
    std::fs::write(s.path().join("data/bad/latin1.txt"), b"caf\xe9 au lait").unwrap();
    let cfg = s.config("t", "");
    // Nothing but that file: no vocabulary can be learned, and the error says why.
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=bad"]);
    assert!(err.contains("latin1.txt: not UTF-8: invalid byte at offset 3"), "{err}");
    // Beside a good file, it is skipped with a warning and training goes on.
    std::fs::copy(s.path().join("data/corpus.txt"), s.path().join("data/bad/good.txt")).unwrap();
    let out = common::autoreg(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=bad"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning: skipped")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("latin1.txt: not UTF-8: invalid byte at offset 3"), "{stderr}");
    assert!(stderr.contains("(1 skipped)"), "{stderr}");
    // The same file as a prompt to the trained character model.
    let run = s.run_dir("t");
    let err = fails(s.path(), &["sample", run.to_str().unwrap(), "--prompt", "data/bad/latin1.txt"]);
    assert!(err.contains("latin1.txt: not UTF-8: invalid byte at offset 3"), "{err}");
}

#[test]
fn run_directory_without_weights() {
    let s = Scratch::new();
    let err = fails(s.path(), &["sample", "nowhere"]);
    assert!(err.contains("nowhere: not a run directory"), "{err}");
    let cfg = s.config("t", "");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("t");
    std::fs::remove_dir_all(run.join("checkpoints")).unwrap();
    std::fs::remove_file(run.join("last")).unwrap();
    std::fs::remove_file(run.join("best")).unwrap();
    for cmd in ["sample", "eval"] {
        let err = fails(s.path(), &[cmd, run.to_str().unwrap()]);
        assert!(err.contains("no `best` checkpoint: no weights were saved here"), "{err}");
    }
    let err = fails(s.path(), &["train", "--resume", run.to_str().unwrap()]);
    assert!(err.contains("no `last` checkpoint"), "{err}");
}

#[test]
fn prompts_classes_and_sampling_options() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("t");
    let r = run.to_str().unwrap();
    // A prompt longer than the context is kept whole; the model sees its last window.
    let prompt = "the lazy dog ".repeat(10);
    std::fs::write(s.path().join("long.txt"), &prompt).unwrap();
    let out = ok(s.path(), &["sample", r, "--prompt", "long.txt", "--max-tokens", "5", "--out", "long"]);
    assert!(out.starts_with(&prompt), "{out}");
    let written = std::fs::read_to_string(s.path().join("long/t.txt")).unwrap();
    assert!(written.starts_with(&prompt) && written.len() <= prompt.len() + 5 * 4, "{written:?}");
    // Classes, by name or number, of a run that has none.
    for class in ["3", "Front"] {
        let err = fails(s.path(), &["sample", r, "--class", class]);
        assert!(err.contains(&format!("--class {class}")) || err.contains("has no classes"), "{err}");
    }
    // Negative numbers reach the option checks (not clap's "unexpected argument").
    let err = fails(s.path(), &["sample", r, "--temperature", "-1", "--out", "neg"]);
    assert!(err.contains("sample.temperature must be a finite number"), "{err}");
    let err = fails(s.path(), &["sample", r, "--top-p", "-0.5", "--out", "neg"]);
    assert!(err.contains("sample.top_p"), "{err}");
    // A failed sample leaves no output folder behind.
    assert!(!s.path().join("neg").exists());
    // A top-k beyond i64 is every token, not a panic.
    let huge = ["sample", r, "--top-k", "9223372036854775808", "--max-tokens", "5", "--seed", "3", "--out", "k"];
    let plain = ["sample", r, "--max-tokens", "5", "--seed", "3", "--out", "plain"];
    assert_eq!(ok(s.path(), &huge), ok(s.path(), &plain));
}

#[test]
fn model_sizes_that_cannot_fit_are_refused_before_allocating() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let c = cfg.to_str().unwrap();
    for set in ["model.n_embd=100000", "model.n_layer=100000", "train.batch_size=10000000", "model.block_size=1000000"]
    {
        let err = fails(s.path(), &["train", c, "--set", set]);
        assert!(err.contains("of memory but") && err.contains("is available"), "--set {set}: {err}");
    }
}

#[test]
fn a_tokenizer_option_error_points_at_its_line_and_each_cause_prints_once() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("kind = \"text\"", "kind = \"text\"\nlevel = \"word\"");
    std::fs::write(&cfg, text).unwrap();
    let err = fails(s.path(), &["train", cfg.to_str().unwrap()]);
    assert!(err.contains(&format!("line {}: [tokenizer] unknown variant `word`", line_of(&cfg, "level"))), "{err}");
    // A name too long for the file system: the OS error once, not `X: X`.
    let long = "n".repeat(300);
    let cfg = s.config("u", "");
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", &format!("name={long}")]);
    assert_eq!(err.matches("File name too long").count(), 1, "{err}");
}
