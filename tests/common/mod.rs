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

/// `rel` under the data root ([`autoreg_data::find_data`]: `$AUTOREG_DATA` alone when
/// set, else the sets and parts the project carries in `datasets/`). Missing data fails
/// the calling test: no test passes by skipping.
pub fn shared_data(rel: &str) -> PathBuf {
    autoreg_data::find_data(rel).unwrap_or_else(|e| panic!("{e}"))
}

/// The CRC-32 of PNG chunks (ISO 3309, as in zlib).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Checks the structure of a PNG file (signature, chunks with valid CRCs, IHDR first,
/// IDAT, IEND last) and returns its width and height.
pub fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}: not a PNG", path.display());
    let (mut pos, mut kinds, mut size) = (8, Vec::new(), None);
    while pos < bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let body = &bytes[pos + 4..pos + 8 + len];
        let crc = u32::from_be_bytes(bytes[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        assert_eq!(crc32(body), crc, "{}: bad CRC in chunk {:?}", path.display(), String::from_utf8_lossy(&body[..4]));
        if &body[..4] == b"IHDR" {
            let be = |i: usize| u32::from_be_bytes(body[i..i + 4].try_into().unwrap());
            size = Some((be(4), be(8)));
        }
        kinds.push(String::from_utf8_lossy(&body[..4]).into_owned());
        pos += 12 + len;
    }
    assert_eq!(pos, bytes.len(), "{}: trailing bytes", path.display());
    assert_eq!(kinds.first().map(String::as_str), Some("IHDR"), "{}", path.display());
    assert_eq!(kinds.last().map(String::as_str), Some("IEND"), "{}", path.display());
    assert!(kinds.iter().any(|k| k == "IDAT"), "{}: no image data", path.display());
    size.unwrap()
}

/// A 16-bit PCM WAV file, read by hand from its RIFF chunks (independently of hound).
pub struct Wav {
    pub channels: u16,
    pub rate: u32,
    pub samples: Vec<i16>,
}

impl Wav {
    /// The samples as values in [-1, 1).
    pub fn floats(&self) -> Vec<f32> {
        self.samples.iter().map(|&s| f32::from(s) / 32768.0).collect()
    }
}

/// Reads a WAV file, checking the RIFF header, that every chunk fits the file, and that
/// it is 16-bit PCM with whole samples.
pub fn parse_wav(path: &Path) -> Wav {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    assert!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "{}: not a WAV file",
        path.display()
    );
    assert_eq!(u32_at(4) as usize, bytes.len() - 8, "{}: RIFF size", path.display());
    let (mut pos, mut format, mut data) = (12, None, None);
    while pos + 8 <= bytes.len() {
        let len = u32_at(pos + 4) as usize;
        let body = pos + 8..pos + 8 + len;
        assert!(body.end <= bytes.len(), "{}: chunk at {pos} overruns the file", path.display());
        match &bytes[pos..pos + 4] {
            b"fmt " => format = Some((u16_at(pos + 8), u16_at(pos + 10), u32_at(pos + 12), u16_at(pos + 22))),
            b"data" => data = Some(body.clone()),
            _ => {}
        }
        pos = body.end + len % 2;
    }
    let (format, channels, rate, bits) = format.unwrap_or_else(|| panic!("{}: no fmt chunk", path.display()));
    assert_eq!((format, bits), (1, 16), "{}: 16-bit PCM expected", path.display());
    let data = data.unwrap_or_else(|| panic!("{}: no data chunk", path.display()));
    assert_eq!(data.len() % 2, 0, "{}: half a sample", path.display());
    let samples = bytes[data].chunks_exact(2).map(|s| i16::from_le_bytes([s[0], s[1]])).collect();
    Wav { channels, rate, samples }
}

/// Runs `autoreg` with `args` in `cwd`.
pub fn autoreg(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autoreg")).current_dir(cwd).args(args).output().unwrap()
}

/// Runs `autoreg train CONFIG --set S...` in `cwd`, expecting success.
pub fn train_with(cwd: &Path, config: &Path, sets: &[String]) -> String {
    let mut args = vec!["train".to_owned(), config.display().to_string()];
    args.extend(sets.iter().flat_map(|v| ["--set".to_owned(), v.clone()]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(cwd, &args)
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

/// The lines of a run's `metrics.jsonl`.
pub fn metrics(run_dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The last validation loss in a run's metrics.
pub fn last_val_loss(run_dir: &Path) -> f64 {
    metrics(run_dir).last().unwrap()["val_loss"].as_f64().unwrap()
}

/// Runs `f` on a thread and returns what it returns; fails the test when it is still
/// running after `limit` (a hang) or panics.
pub fn within<T: Send + 'static>(limit: std::time::Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("still running after {limit:?}: it hangs"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("failed (see above)"),
    }
}

/// Starts `autoreg` with `args` in `cwd`, held by the trainer's test hook
/// (`AUTOREG_TEST_PAUSE`) at `point` of `step`; returns once it is there. Its standard
/// error is piped, standard output dropped.
pub fn start_paused(cwd: &Path, args: &[&str], point: &str, step: i64) -> std::process::Child {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let ready = cwd.join(format!("paused-{n}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_autoreg"))
        .current_dir(cwd)
        .args(args)
        .env("AUTOREG_TEST_PAUSE", format!("{point}:{step}:{}", ready.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !ready.exists() {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!("autoreg {args:?} ended before {point} of step {step}:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(120), "autoreg {args:?} never reached {point}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child
}

/// Sends `signal` (`"INT"`, `"KILL"`) to `child`.
pub fn signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill").args(["-s", signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success(), "kill -s {signal} failed");
}

/// Waits for `child` to end, at most `secs` seconds; returns its status and standard error.
pub fn finish(child: std::process::Child, secs: u64) -> (std::process::ExitStatus, String) {
    let out = within(std::time::Duration::from_secs(secs), move || child.wait_with_output().unwrap());
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The tensors of a safetensors file, sorted by name.
pub fn tensors(path: &Path) -> Vec<(String, tch::Tensor)> {
    let mut named = tch::Tensor::read_safetensors(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}
