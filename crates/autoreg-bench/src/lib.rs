//! Shared set-up of the benchmarks: the project's paths and the Shakespeare corpus.

use anyhow::{Context, Result, bail};
use autoreg_text::{TextConfig, TextTokenizer};
use autoreg_tokens::{Tokenizer, TokenizerBuilder};
use std::path::PathBuf;
use std::process::Command;

/// The repository root.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The data root: `$AUTOREG_DATA`, else `../shared/datasets` beside the repository.
pub fn data_root() -> PathBuf {
    std::env::var_os("AUTOREG_DATA").map(PathBuf::from).unwrap_or_else(|| project_root().join("../shared/datasets"))
}

/// Tiny Shakespeare: its path, the character tokenizer and the one document's tokens.
pub fn shakespeare() -> Result<(PathBuf, TextTokenizer, Vec<u32>)> {
    let path = data_root().join("tinyshakespeare/input.txt");
    if !path.is_file() {
        bail!("{} not found: set AUTOREG_DATA to the data root", path.display());
    }
    let tok = TextConfig::default().build(std::slice::from_ref(&path))?;
    let doc = tok.encode_file(&path)?.into_iter().next().unwrap_or_default();
    Ok((path, tok, doc))
}

/// Runs a Python script in the project's virtual environment (made by `cargo setup`)
/// and returns its standard output.
pub fn run_python(script: &str, args: &[String]) -> Result<String> {
    let python = project_root().join(".venv/bin/python");
    let script = project_root().join("crates/autoreg-bench/reference").join(script);
    let out = Command::new(&python)
        .arg(&script)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {} (run `cargo setup` first)", python.display()))?;
    if !out.status.success() {
        bail!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The median of `values`.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
