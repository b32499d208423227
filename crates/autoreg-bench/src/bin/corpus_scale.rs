//! Corpora larger than memory: autoreg's token store beside nanoGPT's way (a `uint16`
//! memmap written with numpy or Python `tokenizers`, `reference/corpus_memmap.py`),
//! measured in the same run, each step in a process of its own so that each peak
//! memory is its own.
//!
//! For each corpus size (real text: tiny shakespeare and the Python standard library
//! repeated, in files of 1 MB, generated into `--dir`), a byte-level text config with a
//! tiny model:
//! 1. tokenizing into the cache: wall time, MB/s, peak resident memory, cache size;
//! 2. training 20 steps from the cache: start-up (process start to the first step, at
//!    most: the process's wall time less its training time) and peak resident memory.
//!
//! For the 1 GB corpus (or the largest below it), also BPE with 4,096 ids (learned on
//! `--learn-mb` of the training split): autoreg's encoding of the corpus through the
//! merges beside Python `tokenizers`' `encode_batch`, in MB/s.
//!
//! `cargo run --release -p autoreg-bench --bin corpus_scale [-- --sizes 100M,1G,10G]
//! [--dir DIR] [--learn-mb 20]`. Each size needs about 3.2 times its size free in
//! `--dir` (the default: the system's temporary folder); a size that does not fit is
//! skipped, saying so.

use anyhow::{Context, Result, bail};
use autoreg::cli::TrainArgs;
use autoreg::commands;
use autoreg::config::Config;
use autoreg_bench::{last_line, run_python};
use autoreg_data::Progress;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const MB: u64 = 1_000_000;
const FILE_BYTES: usize = 1_000_000;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let sizes: Vec<u64> =
        flag("--sizes").unwrap_or_else(|| "100M,1G,10G".into()).split(',').map(parse_size).collect::<Result<_>>()?;
    let dir = flag("--dir").map_or_else(std::env::temp_dir, PathBuf::from);
    let learn_mb: u64 = flag("--learn-mb").map_or(Ok(20), |s| s.parse()).context("--learn-mb N")?;
    let work = tempfile::tempdir_in(&dir).with_context(|| format!("cannot make a folder in {}", dir.display()))?;
    let seed_text = seed_text()?;
    println!("corpus_scale: corpora in {}, files of 1 MB, byte-level text, 20 training steps", dir.display());
    println!(
        "{:>8} {:>12} {:>9} {:>14} {:>12} {:>10} {:>14} {:>11}",
        "corpus", "tokenize s", "MB/s", "peak tok. MB", "cache B/tok", "start s", "peak train MB", "cache GB"
    );
    let bpe_size = sizes.iter().copied().filter(|&s| s <= 1000 * MB).max();
    let mut bpe_corpus = None;
    for &size in &sizes {
        let free = free_bytes(work.path())?;
        if free < size * 32 / 10 {
            println!(
                "{:>8} skipped: needs {:.1} GB free in {}, has {:.1} GB",
                label(size),
                size as f64 * 3.2e-9,
                dir.display(),
                free as f64 * 1e-9
            );
            continue;
        }
        let corpus = work.path().join(format!("corpus-{}", label(size)));
        generate(&corpus, size, &seed_text)?;
        let config = write_config(work.path(), &corpus, &label(size), None)?;
        let tok = run_child("prepare", &config)?;
        let train = run_child("train", &config)?;
        let cache = folder_bytes(&work.path().join(format!("cache-{}", label(size))))?;
        let tokens = tok["tokens"].as_f64().unwrap_or(f64::NAN);
        let tok_s = tok["steps"]["tokenizing"].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:>8} {:>12.1} {:>9.0} {:>14.0} {:>12.3} {:>10.2} {:>14.0} {:>11.2}",
            label(size),
            tok_s,
            size as f64 / MB as f64 / tok_s,
            tok["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            cache as f64 / tokens,
            train["startup_s"].as_f64().unwrap_or(f64::NAN),
            train["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            cache as f64 * 1e-9,
        );
        if Some(size) == bpe_size {
            bpe_corpus = Some((corpus, size));
        } else {
            std::fs::remove_dir_all(&corpus)?;
            std::fs::remove_dir_all(work.path().join(format!("cache-{}", label(size))))?;
        }
    }
    let Some((corpus, size)) = bpe_corpus else { return Ok(()) };
    println!(
        "\nnanoGPT's way on the {} corpus (reference/corpus_memmap.py): numpy bytes into a uint16 memmap",
        label(size)
    );
    let memmap_dir = work.path().join("memmap");
    let reference = run_python(
        "crates/autoreg-bench/reference/corpus_memmap.py",
        ["bytes".as_ref(), corpus.as_os_str(), memmap_dir.as_os_str()],
    )?;
    let r: serde_json::Value =
        serde_json::from_str(&reference).with_context(|| format!("the reference said {reference:?}"))?;
    println!(
        "   tokenize {:.1} s ({:.0} MB/s), peak {:.0} MB, read back and 20 batches drawn {:.2} s at peak {:.0} MB, {:.3} bytes/token",
        r["tokenize_s"].as_f64().unwrap_or(f64::NAN),
        r["mb_per_s"].as_f64().unwrap_or(f64::NAN),
        r["peak_tokenize_mb"].as_f64().unwrap_or(f64::NAN),
        r["startup_s"].as_f64().unwrap_or(f64::NAN),
        r["peak_read_mb"].as_f64().unwrap_or(f64::NAN),
        r["bytes_per_token"].as_f64().unwrap_or(f64::NAN),
    );
    std::fs::remove_dir_all(&memmap_dir)?;

    println!("\nBPE with 4,096 ids on the {} corpus, learned on {learn_mb} MB of it", label(size));
    let config = write_config(work.path(), &corpus, &format!("{}-bpe", label(size)), Some(learn_mb * MB))?;
    // The byte-level cache of the run above is read again: the merges are learned, then
    // every document is encoded through them.
    let ours = run_child("prepare", &config)?;
    let encode_s = ours["steps"]["encoding documents through the learned stages"].as_f64().unwrap_or(f64::NAN);
    // Learning reports no progress: the rest of the preparation, the cache read included.
    let learn_s = ours["wall_s"].as_f64().unwrap_or(f64::NAN) - encode_s;
    let theirs_line = run_python(
        "crates/autoreg-bench/reference/corpus_memmap.py",
        ["bpe".as_ref(), corpus.as_os_str(), memmap_dir.as_os_str(), (learn_mb * MB).to_string().as_ref()],
    )?;
    let theirs: serde_json::Value =
        serde_json::from_str(&theirs_line).with_context(|| format!("the reference said {theirs_line:?}"))?;
    let (ours_rate, theirs_rate) =
        (size as f64 / MB as f64 / encode_s, theirs["mb_per_s"].as_f64().unwrap_or(f64::NAN));
    println!(
        "   autoreg: learn (and read the cache) {learn_s:.1} s, encode {encode_s:.1} s = {ours_rate:.1} MB/s, peak {:.0} MB",
        ours["peak_rss_mb"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "   tokenizers (Python): learn {:.1} s, encode {:.1} s = {theirs_rate:.1} MB/s, peak {:.0} MB",
        theirs["learn_s"].as_f64().unwrap_or(f64::NAN),
        theirs["tokenize_s"].as_f64().unwrap_or(f64::NAN),
        theirs["peak_tokenize_mb"].as_f64().unwrap_or(f64::NAN),
    );
    println!("   ratio autoreg / tokenizers: {:.2}x", ours_rate / theirs_rate);
    Ok(())
}

/// `100M`, `1G`, `10G`, or bytes.
fn parse_size(s: &str) -> Result<u64> {
    let (number, unit) = match s.trim().char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&s.trim()[..i], &s.trim()[i..]),
        None => (s.trim(), ""),
    };
    let n: f64 = number.parse().with_context(|| format!("--sizes: {s:?} is not a size such as 100M or 1G"))?;
    let scale = match unit {
        "" => 1.0,
        "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        _ => bail!("--sizes: unit {unit:?} of {s:?}: use K, M or G"),
    };
    Ok((n * scale) as u64)
}

fn label(size: u64) -> String {
    if size >= 1000 * MB { format!("{}G", size / (1000 * MB)) } else { format!("{}M", size / MB) }
}

/// Tiny shakespeare and the Python standard library, end to end.
fn seed_text() -> Result<Vec<u8>> {
    let mut text = std::fs::read(autoreg_data::find_data("tinyshakespeare/input.txt")?)?;
    let stdlib = autoreg_data::find_data("python-stdlib")?;
    for file in autoreg_data::list_files(&stdlib, &["py".to_owned()])? {
        text.extend(std::fs::read(&file)?);
    }
    Ok(text)
}

/// `size` bytes of `seed` repeated, in files of 1 MB, each starting where the last ended.
fn generate(dir: &Path, size: u64, seed: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut at = 0;
    for i in 0..size.div_ceil(FILE_BYTES as u64) {
        let len = FILE_BYTES.min((size - i * FILE_BYTES as u64) as usize);
        let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join(format!("{i:05}.txt")))?);
        let mut left = len;
        while left > 0 {
            let take = left.min(seed.len() - at);
            file.write_all(&seed[at..at + take])?;
            at = (at + take) % seed.len();
            left -= take;
        }
        file.flush()?;
    }
    Ok(())
}

/// A byte-level text config over `corpus` (with BPE learned on `learn_tokens`, when
/// given), its cache and runs in `work`.
fn write_config(work: &Path, corpus: &Path, name: &str, learn_tokens: Option<u64>) -> Result<PathBuf> {
    let bpe = if learn_tokens.is_some() { "[tokenizer.bpe]\nvocab_size = 4096\n" } else { "" };
    let learn = learn_tokens.map(|n| format!("learn_tokens = {n}\n")).unwrap_or_default();
    let toml = format!(
        "name = \"{name}\"\n[data]\npath = {corpus:?}\ncache_dir = {cache:?}\n{learn}\
         [tokenizer]\nkind = \"text\"\nlevel = \"byte\"\n{bpe}\
         [model]\nn_layer = 2\nn_head = 2\nn_embd = 64\nblock_size = 64\n\
         [train]\nbatch_size = 8\nmax_steps = 20\nwarmup_steps = 2\neval_interval = 1000\neval_batches = 2\nruns_dir = {runs:?}\n",
        corpus = corpus.display().to_string(),
        cache = work.join(format!("cache-{}", name.trim_end_matches("-bpe"))).display().to_string(),
        runs = work.join("runs").display().to_string(),
    );
    let path = work.join(format!("{name}.toml"));
    std::fs::write(&path, toml)?;
    let _ = std::fs::remove_dir_all(work.join("runs"));
    Ok(path)
}

/// Runs this benchmark's `what` step on `config` in a process of its own; its JSON line.
fn run_child(what: &str, config: &Path) -> Result<serde_json::Value> {
    let spawned = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
    let exe = std::env::current_exe()?;
    let line = last_line(
        Command::new(exe).args(["--child", what]).arg(config).arg(spawned.to_string()),
        &format!("the {what} step on {}", config.display()),
    )?;
    serde_json::from_str(&line).with_context(|| format!("the {what} step said {line:?}"))
}

/// The process's peak resident memory in MB, from `/proc/self/status`.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok());
    kb.map_or(f64::NAN, |kb: f64| kb / 1000.0)
}

/// Progress that times each step by name: the steps done, and the one under way.
#[derive(Default)]
struct Timed {
    done: Mutex<Vec<(String, f64)>>,
    current: Mutex<Option<(String, Instant)>>,
}

impl Progress for Timed {
    fn begin(&self, what: &str, _total: u64) {
        if let Ok(mut current) = self.current.lock() {
            *current = Some((what.to_owned(), Instant::now()));
        }
    }

    fn advance(&self, _n: u64) {}

    fn end(&self) {
        if let (Ok(mut current), Ok(mut done)) = (self.current.lock(), self.done.lock())
            && let Some((what, start)) = current.take()
        {
            done.push((what, start.elapsed().as_secs_f64()));
        }
    }
}

/// `prepare CONFIG`: prepares the run's data, printing each step's seconds, the tokens
/// and the peak memory. `train CONFIG SPAWNED`: trains it, printing the start-up (the
/// seconds since `SPAWNED`, the parent's clock at the spawn, less the training's) and
/// the peak memory.
fn child(args: &[String]) -> Result<()> {
    let (what, config) = match args {
        [what, config, _] => (what.as_str(), PathBuf::from(config)),
        _ => bail!("--child prepare|train CONFIG SPAWNED"),
    };
    match what {
        "prepare" => {
            let cfg = Config::load(&config, &[])?;
            let start = Instant::now();
            let timed = Timed::default();
            let prepared = autoreg::prepare::prepare(&cfg, config.parent().unwrap_or(Path::new(".")), &timed)?;
            let steps: serde_json::Map<String, serde_json::Value> =
                timed.done.into_inner().unwrap_or_default().into_iter().map(|(k, v)| (k, v.into())).collect();
            let tokens = prepared.data.train.num_tokens() + prepared.data.val.num_tokens();
            let wall = start.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({ "steps": steps, "wall_s": wall, "tokens": tokens, "peak_rss_mb": peak_rss_mb() })
            );
        }
        "train" => {
            let spawned: f64 = args[2].parse().context("SPAWNED")?;
            let summary = commands::train(&TrainArgs {
                config: Some(config),
                set: Vec::new(),
                resume: None,
                nproc: 1,
                init_from: None,
            })?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
            let startup = now - spawned - summary.elapsed_s;
            println!("{}", serde_json::json!({ "startup_s": startup, "peak_rss_mb": peak_rss_mb() }));
        }
        _ => bail!("--child {what}: prepare or train"),
    }
    Ok(())
}

/// Bytes of the files under `dir`.
fn folder_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let meta = entry.metadata()?;
        total += if meta.is_dir() { folder_bytes(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

/// Bytes free on the file system of `dir`.
fn free_bytes(dir: &Path) -> Result<u64> {
    let out = Command::new("df").args(["-B1", "--output=avail"]).arg(dir).output().context("cannot run df")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1).and_then(|l| l.trim().parse().ok()).with_context(|| format!("df said {text:?}"))
}
