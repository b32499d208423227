//! The MIDI modality end to end through the `autoreg` binary, on Nottingham tunes: a
//! tiny model trains, samples tunes that parse with their piano roll and preview, skips
//! broken files with one warning each, and continues a prompt without changing it.
//!
//! The tunes come from `nottingham/melody` under the data root
//! ([`common::shared_data`]).

use crate::common;
use autoreg::midi::{SAMPLE_RATE, Score};
use common::{autoreg, ok, parse_wav, png_size, shared_data, tiny_config};
use std::path::{Path, PathBuf};

/// Grid steps per beat in the test config.
const PPB: u64 = 4;
/// Longest duration in beats (the tokenizer's default).
const MAX_DURATION_BEATS: u64 = 8;
/// Pitch range of the test config: narrower than a piano, wide enough for the tunes.
const PITCH_RANGE: [u8; 2] = [48, 96];

/// The Nottingham melody files, sorted.
fn melodies() -> Vec<PathBuf> {
    let dir = shared_data("nottingham/melody");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    assert!(files.len() >= 100, "{} holds only {} .mid files", dir.display(), files.len());
    files
}

/// A scratch project whose `data/melody/` holds `count` tunes spread over the corpus.
struct Project {
    dir: tempfile::TempDir,
    tunes: Vec<PathBuf>,
}

impl Project {
    fn new(count: usize) -> Self {
        let all = melodies();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data/melody");
        std::fs::create_dir_all(&data).unwrap();
        let step = all.len() / count;
        let tunes = all
            .iter()
            .step_by(step)
            .take(count)
            .map(|f| {
                let to = data.join(f.file_name().unwrap());
                std::fs::copy(f, &to).unwrap();
                to
            })
            .collect();
        Self { dir, tunes }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `<name>.toml`: a tiny REMI model of `data/melody`, 20 steps on the CPU.
    fn config(&self, name: &str) -> PathBuf {
        let data = "path = \"melody\"\nsplit = \"files\"\nval_fraction = 0.1";
        let tokenizer = format!(
            "kind = \"midi\"\nscheme = \"remi\"\npositions_per_beat = {PPB}\nmax_duration_beats = {MAX_DURATION_BEATS}\n\
             pitch_range = [{}, {}]\nmax_bars = 8\ntranspose = 2",
            PITCH_RANGE[0], PITCH_RANGE[1]
        );
        let sample = "[sample]\nnum = 3\nmax_tokens = 200\nmin_tokens = 16\n";
        tiny_config(self.path(), &self.path().join("data"), name, data, &tokenizer, 64, sample)
    }

    /// Trains `name`; returns its run directory.
    fn train(&self, name: &str) -> PathBuf {
        let config = self.config(name);
        ok(self.path(), &["train", config.to_str().unwrap()]);
        self.path().join("runs").join(name)
    }
}

/// Reads a MIDI file written by `autoreg`.
fn read_score(path: &Path) -> Score {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Score::from_midi(&bytes, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"))
}

/// A note on the test grid: (onset step, pitch, duration in steps).
type GridNote = (u64, u8, u64);

/// The notes of `score` on the grid (as the tokenizer quantizes them), in the pitch
/// range, with onsets before step `end`; sorted.
fn grid_notes(score: &Score, end: u64) -> Vec<GridNote> {
    let tpb = u64::from(score.ticks_per_beat);
    let step = |tick: u64| (tick * PPB * 2 + tpb) / (2 * tpb);
    let mut notes: Vec<GridNote> = score
        .notes
        .iter()
        .filter(|n| (PITCH_RANGE[0]..=PITCH_RANGE[1]).contains(&n.pitch))
        .map(|n| (step(n.start), n.pitch, step(n.duration).clamp(1, MAX_DURATION_BEATS * PPB)))
        .filter(|n| n.0 < end)
        .collect();
    notes.sort_unstable();
    notes
}

/// The grid step at which bar `bar` (0-based) of `score` starts.
fn bar_step(score: &Score, bar: usize) -> u64 {
    let tick = score.bar_ticks(u64::MAX / 2).nth(bar).unwrap();
    let tpb = u64::from(score.ticks_per_beat);
    (tick * PPB * 2 + tpb) / (2 * tpb)
}

#[test]
fn a_tiny_model_samples_tunes_with_piano_roll_and_preview() {
    let p = Project::new(40);
    let run = p.train("tunes");
    ok(p.path(), &["sample", run.to_str().unwrap(), "--seed", "3", "--out", "out"]);
    let out = p.path().join("out");
    for i in 0..3 {
        let mid = out.join(format!("tunes-{i}.mid"));
        let score = read_score(&mid);
        assert!(!score.notes.is_empty(), "{}: no notes", mid.display());
        for n in &score.notes {
            assert!(
                (PITCH_RANGE[0]..=PITCH_RANGE[1]).contains(&n.pitch),
                "{}: pitch {} outside {PITCH_RANGE:?}",
                mid.display(),
                n.pitch
            );
            assert!(n.duration > 0, "{}: a note without length", mid.display());
        }
        let (lo, hi) =
            (score.notes.iter().map(|n| n.pitch).min().unwrap(), score.notes.iter().map(|n| n.pitch).max().unwrap());
        let (width, height) = png_size(&mid.with_extension("png"));
        // A row of pixels at least per semitone spanned, a column at least per beat.
        let beats = score.end() / u64::from(score.ticks_per_beat);
        assert!(height > u32::from(hi - lo), "{}: {height} px for pitches {lo}..={hi}", mid.display());
        assert!(u64::from(width) > beats, "{}: {width} px for {beats} beats", mid.display());
        let wav = parse_wav(&mid.with_extension("wav"));
        assert_eq!((wav.channels, wav.rate), (1, SAMPLE_RATE), "{}: not mono", mid.display());
        let samples = wav.samples;
        let seconds = samples.len() as f64 / f64::from(SAMPLE_RATE);
        let expected = score.seconds_at(score.end());
        assert!(
            seconds >= expected && seconds < expected + 0.5,
            "{}: {seconds:.2} s of audio for {expected:.2} s of music",
            mid.with_extension("wav").display()
        );
        assert!(samples.iter().any(|&s| s.unsigned_abs() > 1000), "{}: silent", mid.with_extension("wav").display());
    }
}

#[test]
fn broken_files_are_skipped_or_recovered_with_one_warning_each() {
    let p = Project::new(20);
    let data = p.path().join("data/melody");
    std::fs::write(data.join("empty.mid"), b"").unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..600)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect();
    assert!(!noise.starts_with(b"MThd") && !noise.starts_with(b"RIFF"));
    std::fs::write(data.join("noise.mid"), &noise).unwrap();
    // A sound header and a track chunk of noise.
    let mut garbled = b"MThd\0\0\0\x06\0\0\0\x01\x01\xe0MTrk".to_vec();
    garbled.extend((noise.len() as u32).to_be_bytes());
    garbled.extend(noise.iter().map(|b| b | 0x80));
    std::fs::write(data.join("garbled.mid"), &garbled).unwrap();
    let good = std::fs::read(&p.tunes[0]).unwrap();
    std::fs::write(data.join("truncated.mid"), &good[..good.len() * 3 / 5]).unwrap();
    // The truncated file keeps its notes before the cut, with a warning; the others are skipped.
    let broken = ["empty.mid", "noise.mid", "garbled.mid", "truncated.mid"];

    let config = p.config("skips");
    let check = |stderr: &str| {
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning:")).collect();
        assert_eq!(warnings.len(), broken.len(), "{stderr}");
        for name in broken {
            let about = warnings.iter().filter(|w| w.contains(&format!("{}: ", data.join(name).display()))).count();
            assert_eq!(about, 1, "one warning naming {name}:\n{stderr}");
        }
        assert!(stderr.contains("data: 21 file(s) (3 skipped)"), "{stderr}");
    };
    let out = autoreg(p.path(), &["train", config.to_str().unwrap(), "--set", "train.max_steps=2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    eprintln!("{stderr}");
    check(&stderr);
    for (name, reason) in [("empty", "empty"), ("noise", "MThd"), ("garbled", "malformed"), ("truncated", "truncated")]
    {
        let line = stderr.lines().find(|l| l.contains(&format!("{name}.mid"))).unwrap();
        assert!(line.contains(reason), "the warning about {name}.mid should say why: {line}");
    }
    // A second run reads the tokens from the cache, and still warns once per file.
    let out =
        autoreg(p.path(), &["train", config.to_str().unwrap(), "--set", "name=again", "--set", "train.max_steps=2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("from the cache"), "{stderr}");
    check(&stderr);
}

#[test]
fn a_prompt_is_continued_with_its_first_bars_unchanged() {
    let p = Project::new(40);
    let run = p.train("cont");
    // The tune with the most notes in its first two bars.
    let (prompt, original) =
        p.tunes.iter().map(|t| (t, read_score(t))).max_by_key(|(_, s)| grid_notes(s, bar_step(s, 2)).len()).unwrap();
    let bar2 = bar_step(&original, 2);
    let expected = grid_notes(&original, bar2);
    assert!(expected.len() >= 8, "{}: too few notes in two bars: {expected:?}", prompt.display());
    let args = ["sample", run.to_str().unwrap(), "--prompt", prompt.to_str().unwrap(), "--prompt-length", "2"];
    ok(p.path(), &[&args[..], &["--num", "3", "--max-tokens", "150", "--seed", "1", "--out", "cont"]].concat());
    let mut continued = 0;
    for i in 0..3 {
        let mid = p.path().join(format!("cont/cont-{i}.mid"));
        let score = read_score(&mid);
        // The prompt's two bars come back note for note: the continuation starts a new bar.
        let two = grid_notes(&score, bar2);
        assert_eq!(two, expected, "{}: the prompt's two bars changed", mid.display());
        eprintln!("{}: {} prompt notes kept, {} notes in all", mid.display(), expected.len(), score.notes.len());
        let (sig, want) = (score.time_signatures[0], original.time_signatures[0]);
        assert_eq!((sig.numerator, sig.denominator), (want.numerator, want.denominator), "{}", mid.display());
        continued += usize::from(grid_notes(&score, u64::MAX).len() > grid_notes(&score, bar2).len());
    }
    assert!(continued > 0, "no sample went on past the prompt's two bars");
}

/// The names of the files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn render_writes_into_out_not_beside_the_file() {
    let tune = &melodies()[0];
    let dir = tempfile::tempdir().unwrap();
    // A folder of tunes that cannot be written to (whoever runs the tests: root writes
    // anyway, so its files are checked too); a stem with a dot of its own.
    let tunes = dir.path().join("tunes");
    std::fs::create_dir(&tunes).unwrap();
    let mid = tunes.join("air.v2.mid");
    std::fs::copy(tune, &mid).unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tunes, std::fs::Permissions::from_mode(0o555)).unwrap();

    // By default into out/ of the working folder, as `sample` writes.
    let out = autoreg(&work, &["render", mid.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(names(&work.join("out")), ["air.v2.png", "air.v2.wav"], "{stderr}");
    assert!(stderr.contains("wrote out/air.v2.png"), "{stderr}");
    // Or into --out, made when missing.
    ok(&work, &["render", mid.to_str().unwrap(), "--out", "rolls/a"]);
    assert_eq!(names(&work.join("rolls/a")), ["air.v2.png", "air.v2.wav"]);
    let (width, height) = png_size(&work.join("rolls/a/air.v2.png"));
    assert!(width >= 800 && height > 0, "{width}x{height}");
    let wav = parse_wav(&work.join("rolls/a/air.v2.wav"));
    assert_eq!((wav.channels, wav.rate), (1, SAMPLE_RATE));
    assert!(wav.samples.iter().any(|&s| s.unsigned_abs() > 1000), "a silent preview");
    // Nothing beside the tune.
    assert_eq!(names(&tunes), ["air.v2.mid"]);
    std::fs::set_permissions(&tunes, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `render` reads a damaged file as `encode` does: what comes before the damage, with
/// one warning naming the file and the damage.
#[test]
fn render_draws_a_truncated_file_with_a_warning() {
    let good = std::fs::read(&melodies()[0]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cut.mid"), &good[..good.len() * 3 / 5]).unwrap();
    let out = autoreg(dir.path(), &["render", "cut.mid", "--out", "rolls"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("cut.mid: ") && warnings[0].contains("truncated"), "{stderr}");
    assert_eq!(names(&dir.path().join("rolls")), ["cut.png", "cut.wav"]);
    let wav = parse_wav(&dir.path().join("rolls/cut.wav"));
    assert!(wav.samples.iter().any(|&s| s.unsigned_abs() > 1000), "a silent preview");
}
