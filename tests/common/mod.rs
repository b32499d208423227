//! Helpers for the end-to-end tests: a scratch folder with a small corpus and a config,
//! and a way to run the `autoreg` binary.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch project: `data/` with text files, configs, and runs under it.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    /// A scratch folder whose `data/corpus.txt` holds a few KB of text.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let line = "the quick brown fox jumps over the lazy dog. ";
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/corpus.txt"), line.repeat(200)).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `<name>.toml`: a tiny character model of `data/corpus.txt`, with `extra`
    /// appended (TOML sections).
    pub fn config(&self, name: &str, extra: &str) -> PathBuf {
        let data = "path = \"corpus.txt\"\nsplit = \"tail\"";
        tiny_config(self.path(), &self.path().join("data"), name, data, "kind = \"text\"", 32, extra)
    }

    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.path().join("runs").join(name)
    }
}

/// Writes `<dir>/<name>.toml`: a tiny model (2 layers, 32 wide, `block_size`) trained
/// for 20 steps on one CPU thread, its data under `root` and its cache and runs in `dir`.
/// `data` and `tokenizer` are the keys of those sections; `extra` (TOML sections) ends
/// the file.
pub fn tiny_config(
    dir: &Path,
    root: &Path,
    name: &str,
    data: &str,
    tokenizer: &str,
    block_size: u32,
    extra: &str,
) -> PathBuf {
    let text = format!(
        r#"name = "{name}"

[data]
root = "{root}"
cache_dir = "{cache}"
{data}

[tokenizer]
{tokenizer}

[model]
n_layer = 2
n_head = 2
n_embd = 32
block_size = {block_size}

[train]
runs_dir = "{runs}"
batch_size = 4
max_steps = 20
warmup_steps = 2
eval_interval = 10
eval_batches = 2
device = "cpu"
threads = 1

{extra}"#,
        root = root.display(),
        cache = dir.join("cache").display(),
        runs = dir.join("runs").display(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `rel` under the shared data root: `$AUTOREG_DATA`, else `../shared/datasets` beside the
/// repository. Missing data fails the calling test when `AUTOREG_DATA` is set and skips
/// it (`None`, with a note) when it is not.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let (root, required) = match std::env::var_os("AUTOREG_DATA") {
        Some(root) => (PathBuf::from(root), true),
        None => (Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"), false),
    };
    let path = root.join(rel);
    if !path.exists() {
        assert!(!required, "AUTOREG_DATA is set but {} does not exist", path.display());
        eprintln!("skipped: {} not found (set AUTOREG_DATA)", path.display());
        return None;
    }
    Some(path)
}

/// Runs `autoreg` with `args` in `cwd`.
pub fn autoreg(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autoreg")).current_dir(cwd).args(args).output().unwrap()
}

/// Runs `autoreg`, expecting success; returns standard output.
pub fn ok(cwd: &Path, args: &[&str]) -> String {
    let out = autoreg(cwd, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "autoreg {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `autoreg`, expecting a clean failure: exit code 1, an `error:` message, no
/// panic. Returns the message, from `error:` to the end.
pub fn fails(cwd: &Path, args: &[&str]) -> String {
    let out = autoreg(cwd, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "autoreg {args:?} should fail with 1:\n{stderr}");
    assert!(!stderr.contains("panicked"), "autoreg {args:?} panicked:\n{stderr}");
    let at = stderr.find("error: ").unwrap_or_else(|| panic!("no error message:\n{stderr}"));
    stderr[at..].to_owned()
}

/// The last validation loss in a run's metrics.
pub fn last_val_loss(run_dir: &Path) -> f64 {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    let last = text.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    v["val_loss"].as_f64().unwrap()
}
