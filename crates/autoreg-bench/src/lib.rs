//! Shared set-up of the benchmarks: the project's paths and the Shakespeare corpus.

pub mod budget;
pub mod judge;

use anyhow::{Context, Result, bail};
use autoreg_text::{TextConfig, TextTokenizer};
use autoreg_tokens::{Modality, ModalityBuilder, Source};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The repository root.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Tiny Shakespeare, from the first data root that holds it
/// ([`autoreg_data::find_data`]): its path, the character tokenizer and the one
/// document's tokens.
pub fn shakespeare() -> Result<(PathBuf, TextTokenizer, Vec<u32>)> {
    let path = autoreg_data::find_data("tinyshakespeare/input.txt")?;
    if !path.is_file() {
        bail!("{} is not a file", path.display());
    }
    let tok = TextConfig::default().build(std::slice::from_ref(&path))?;
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc = tok.encode(&Source::new(&path, &bytes))?.into_iter().next().unwrap_or_default();
    Ok((path, tok, doc))
}

/// Runs `command` (`who` in errors) to its end; returns the last line it printed, or an
/// error with what it printed on standard error.
pub fn last_line(command: &mut Command, who: &str) -> Result<String> {
    let out = command.output().with_context(|| format!("cannot run {who}"))?;
    if !out.status.success() {
        bail!("{who} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_owned())
}

/// Runs `script` (a path from the project root) with the Python of the project's virtual
/// environment (made by `cargo setup`) and `args`; returns its last line of output.
pub fn run_python<A: AsRef<std::ffi::OsStr>>(script: &str, args: impl IntoIterator<Item = A>) -> Result<String> {
    let python = project_root().join(".venv/bin/python");
    let who = format!("{script} (with {}: run `cargo setup` if it is missing)", python.display());
    last_line(Command::new(&python).arg(project_root().join(script)).args(args), &who)
}

/// A Python script kept running in the project's virtual environment (made by
/// `cargo setup`), answering one line of standard output per line of input.
pub struct PythonServer {
    name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PythonServer {
    /// Starts `reference/<script>` with `args`.
    pub fn spawn(script: &str, args: &[String]) -> Result<Self> {
        let python = project_root().join(".venv/bin/python");
        let path = project_root().join("crates/autoreg-bench/reference").join(script);
        let mut child = Command::new(&python)
            .arg(&path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {} (run `cargo setup` first)", python.display()))?;
        let (stdin, stdout) = match (child.stdin.take(), child.stdout.take()) {
            (Some(i), Some(o)) => (i, BufReader::new(o)),
            _ => bail!("{}: no pipes to the child process", path.display()),
        };
        Ok(Self { name: path.display().to_string(), child, stdin, stdout })
    }

    /// Sends `request` as one line and returns the answer line.
    pub fn ask(&mut self, request: &str) -> Result<String> {
        writeln!(self.stdin, "{request}").with_context(|| format!("{} stopped", self.name))?;
        let mut answer = String::new();
        if self.stdout.read_line(&mut answer)? == 0 {
            bail!("{} stopped without answering {request:?}", self.name);
        }
        Ok(answer.trim().to_owned())
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        // A server loops until its input closes; killing it does not wait for that.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The median of `values`.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// How far two sets of samples agree: "all N tokens", or where the first row to differ
/// does. The native and the libtorch decoder round differently (about 1e-6), so over
/// thousands of draws one can land on the other side of a near-tie and the samples part.
pub fn agreement(a: &[Vec<u32>], b: &[Vec<u32>]) -> String {
    let len = a.iter().map(Vec::len).max().unwrap_or(0);
    let first = a.iter().zip(b).filter_map(|(a, b)| a.iter().zip(b).position(|(x, y)| x != y)).min();
    match first {
        None if a.len() == b.len() => format!("identical, all {len} tokens of every row"),
        None => "different numbers of rows".to_string(),
        Some(at) => format!("identical for the first {at} of {len} tokens, then a near-tie draw went the other way"),
    }
}
