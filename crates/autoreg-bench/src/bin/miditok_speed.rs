//! BPE training time and encode throughput on the carried Nottingham melodies, autoreg
//! beside MidiTok 3.x (reference/miditok_speed.py), at the same vocabulary size, in one
//! run. REMI as configs/melody.toml, every file whole (no cut into bars), on both sides.
//!
//! Training: autoreg reads and base-encodes every file, then learns the merges
//! (`Bpe::learn`); MidiTok's `tokenizer.train(files_paths=...)` does both. Encoding:
//! every file read, base-encoded and merged, one after another (autoreg also on all
//! cores).
//!
//! Needs MidiTok in the project's virtual environment: `.venv/bin/pip install miditok`.
//!
//! `cargo run --release -p autoreg-bench --bin miditok_speed -- [--vocab 1000]`

use anyhow::{Context, Result, bail};
use autoreg::bpe::{Bpe, BpeConfig};
use autoreg::{Config, ModalityConfig, SavedTokenizer};
use autoreg_bench::project_root;
use autoreg_data::{list_files, resolve_data_path};
use autoreg_tokens::Source;
use clap::Parser;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// BPE training and encoding speed of REMI, autoreg beside MidiTok.
#[derive(Debug, Parser)]
struct Options {
    /// Vocabulary size after BPE (base ids included), on both sides.
    #[arg(long, default_value_t = 1000)]
    vocab: usize,
    /// The config whose data and REMI settings are used.
    #[arg(long, default_value_os_t = project_root().join("configs/melody.toml"))]
    config: PathBuf,
}

/// What the Python reference prints.
struct Reference {
    version: String,
    base_vocab: u64,
    vocab: u64,
    files: u64,
    notes: u64,
    tokens: u64,
    train_s: f64,
    encode_s: f64,
}

fn main() -> Result<()> {
    let o = Options::parse();
    let python = project_root().join(".venv/bin/python");
    let ok = Command::new(&python).args(["-c", "import miditok, symusic"]).output().map(|out| out.status.success());
    if !matches!(ok, Ok(true)) {
        bail!(
            "MidiTok is not installed in {}: install it with `{} -m pip install miditok` (MidiTok 3.x; \
             `cargo setup` does not install it)",
            project_root().join(".venv").display(),
            python.display()
        );
    }

    let mut config = Config::load(&o.config, &[])?;
    let ModalityConfig::Midi(midi) = &mut config.single_mut()?.modality else {
        bail!("{} is not a MIDI config", o.config.display());
    };
    midi.max_bars = 0; // whole files, as MidiTok encodes them
    midi.max_tokens = 0;
    let data_path = resolve_data_path(&config.data, o.config.parent().unwrap_or(Path::new(".")))?;
    let files = list_files(&data_path, &config.single()?.extensions())?;
    let base = SavedTokenizer::new(config.single()?.modality.build(&files)?, None).map_err(anyhow::Error::msg)?;
    let bpe_config = BpeConfig { vocab_size: o.vocab, min_frequency: 2, split: None };
    println!(
        "miditok_speed: {} files of {}, REMI as {} (whole files), vocab {} after BPE; {} rayon thread(s)",
        files.len(),
        data_path.display(),
        o.config.display(),
        o.vocab,
        rayon::current_num_threads(),
    );

    // autoreg: base ids of every file, then the merges.
    let start = Instant::now();
    let mut docs = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        docs.extend(base.pipeline().encode(&Source::new(path, &bytes))?);
    }
    let base_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let bpe = Bpe::learn(&bpe_config, base.base.as_dyn(), docs.iter().map(Vec::as_slice))?;
    let learn_s = start.elapsed().as_secs_f64();
    let merged = SavedTokenizer::new(base.base.clone(), Some(bpe)).map_err(anyhow::Error::msg)?;
    let tok = merged.pipeline();
    let notes: usize = docs.iter().map(|d| base.pipeline().count_units(d)).sum();
    let base_tokens: usize = docs.iter().map(Vec::len).sum();
    drop(docs);

    // autoreg: encoding, one file after another, then on all cores.
    let encode = |path: &PathBuf| -> Result<usize> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(tok.encode(&Source::new(path, &bytes))?.iter().map(Vec::len).sum())
    };
    let start = Instant::now();
    let tokens = files.iter().map(encode).sum::<Result<usize>>()?;
    let encode_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let tokens_par = files.par_iter().map(encode).sum::<Result<usize>>()?;
    let encode_par_s = start.elapsed().as_secs_f64();
    assert_eq!(tokens, tokens_par);

    // MidiTok, on the same files.
    let list = std::env::temp_dir().join(format!("autoreg-miditok_speed-{}.txt", std::process::id()));
    let names: String = files.iter().map(|p| format!("{}\n", p.display())).collect();
    std::fs::write(&list, names).with_context(|| format!("cannot write {}", list.display()))?;
    let script = project_root().join("crates/autoreg-bench/reference/miditok_speed.py");
    let out = Command::new(&python).arg(&script).arg(o.vocab.to_string()).arg(&list).output();
    std::fs::remove_file(&list).ok();
    let out = out.with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!("{} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
    }
    let r = parse_reference(&String::from_utf8_lossy(&out.stdout))?;

    println!("\n{:<28} {:>12} {:>12}", "", "autoreg", format!("MidiTok {}", r.version));
    println!("{:<28} {:>12} {:>12}", "files", files.len(), r.files);
    println!("{:<28} {:>12} {:>12}", "notes", notes, r.notes);
    println!("{:<28} {:>12} {:>12}", "base vocabulary", base.pipeline().vocab_size(), r.base_vocab);
    println!("{:<28} {:>12} {:>12}", "vocabulary after BPE", tok.vocab_size(), r.vocab);
    println!("{:<28} {:>12} {:>12}", "base tokens", base_tokens, "");
    println!("{:<28} {:>12} {:>12}", "tokens after BPE", tokens, r.tokens);
    println!(
        "{:<28} {:>12.3} {:>12.3}",
        "tokens per note after BPE",
        tokens as f64 / notes as f64,
        r.tokens as f64 / r.notes as f64
    );
    println!("{:<28} {:>12.2} {:>12}", "  base-encode s", base_s, "");
    println!("{:<28} {:>12.2} {:>12}", "  learn merges s", learn_s, "");
    println!("{:<28} {:>12.2} {:>12.2}", "BPE training s", base_s + learn_s, r.train_s);
    println!("{:<28} {:>12.2} {:>12.2}", "encode all files s", encode_s, r.encode_s);
    let (files_n, ref_files) = (files.len() as f64, r.files as f64);
    println!("{:<28} {:>12.0} {:>12.0}", "encode files/s", files_n / encode_s, ref_files / r.encode_s);
    println!("{:<28} {:>12.0} {:>12.0}", "encode notes/s", notes as f64 / encode_s, r.notes as f64 / r.encode_s);
    println!(
        "{:<28} {:>12.0} {:>12}",
        format!("encode files/s, {} threads", rayon::current_num_threads()),
        files_n / encode_par_s,
        ""
    );
    println!(
        "autoreg / MidiTok: BPE training {:.1}x faster, encoding {:.1}x faster (files/s, one thread; {:.1}x on all cores)",
        r.train_s / (base_s + learn_s),
        (files_n / encode_s) / (ref_files / r.encode_s),
        (files_n / encode_par_s) / (ref_files / r.encode_s),
    );
    Ok(())
}

/// Reads the reference's JSON line.
fn parse_reference(stdout: &str) -> Result<Reference> {
    let line = stdout.lines().last().context("the reference printed nothing")?;
    let v: serde_json::Value = serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))?;
    if let Some(e) = v.get("error") {
        bail!("the reference: {e} (install MidiTok: .venv/bin/pip install miditok)");
    }
    let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).with_context(|| format!("no {k} in {line}"));
    Ok(Reference {
        version: v.get("miditok").and_then(|s| s.as_str()).unwrap_or("?").to_owned(),
        base_vocab: num("base_vocab")? as u64,
        vocab: num("vocab")? as u64,
        files: num("files")? as u64,
        notes: num("notes")? as u64,
        tokens: num("tokens")? as u64,
        train_s: num("train_s")?,
        encode_s: num("encode_s")?,
    })
}
