//! Times autoreg's REMI tokenization of `nottingham/melody` against MidiTok's.
//!
//! `cargo run --release -p autoreg-midi --example bench_tokenize`. Creates the
//! benchmark's Python environment (`target/bench-venv-miditok` under the workspace,
//! with `pip install miditok`) when it is missing. The tunes come from the first data
//! root that holds them ([`autoreg_data::find_data`]).

use autoreg_midi::{MidiConfig, MidiTokenizer};
use autoreg_tokens::testing::Tokenize;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = crate_dir.join("../..").canonicalize()?;
    let folder = autoreg_data::find_data("nottingham/melody")?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|e| format!("{}: {e}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mid"))
        .collect();
    files.sort();
    let tok = MidiTokenizer::new(MidiConfig::default())?;

    // Like the MidiTok script, each run reads the files from disk and tokenizes them.
    let encode = |path: &PathBuf| -> usize { tok.encode_file(path).map_or(0, |docs| docs.iter().map(Vec::len).sum()) };
    let best_of = |runs: usize, f: &dyn Fn() -> usize| {
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                let tokens = f();
                (start.elapsed().as_secs_f64(), tokens)
            })
            .fold((f64::MAX, 0), |a, b| if b.0 < a.0 { b } else { a })
    };
    let (single, tokens) = best_of(3, &|| files.iter().map(encode).sum());
    let (parallel, _) = best_of(3, &|| files.par_iter().map(encode).sum());
    println!(
        "autoreg REMI: {} files, {tokens} tokens, {single:.4} s on one thread, {parallel:.4} s on {} threads (reading the files included)",
        files.len(),
        rayon::current_num_threads()
    );

    let venv = workspace.join("target/bench-venv-miditok");
    let python = venv.join("bin/python");
    if !python.exists() {
        println!("creating {} (pip install miditok)...", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "miditok"]))?;
    }
    let script = crate_dir.join("bench/miditok_remi.py");
    let output = Command::new(&python).arg(&script).arg(&folder).output()?;
    if !output.status.success() {
        return Err(format!("{}: {}", script.display(), String::from_utf8_lossy(&output.stderr)).into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let seconds: f64 = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("seconds="))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("unexpected output from the MidiTok script: {stdout}"))?;
    println!("MidiTok REMI: {line}");
    println!();
    println!("{:<28}{:>12}{:>14}", "", "seconds", "vs MidiTok");
    println!("{:<28}{:>12.4}{:>13.1}x", "MidiTok REMI (Python)", seconds, 1.0);
    println!("{:<28}{:>12.4}{:>13.1}x", "autoreg REMI, 1 thread", single, seconds / single);
    println!("{:<28}{:>12.4}{:>13.1}x", "autoreg REMI, all threads", parallel, seconds / parallel);
    Ok(())
}

/// Runs `command`, failing on a non-zero exit.
fn run(command: &mut Command) -> Result<(), Box<dyn std::error::Error>> {
    let status = command.status()?;
    if !status.success() {
        return Err(format!("{command:?} failed: {status}").into());
    }
    Ok(())
}
