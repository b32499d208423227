//! The report page of a run (`autoreg report`): one self-contained HTML file with the
//! run's facts, its loss curves as inline SVG, its `autoreg eval` table and its samples.
//!
//! The page names no modality. A sample is a main file and its companions (the files
//! `autoreg sample` wrote beside it), and each file is shown by its kind, found from its
//! extension: images as `<img>`, sound as `<audio>`, text as a monospaced block, anything
//! else as a link. Media go in as data URIs up to [`EMBED_LIMIT`] bytes each, larger ones
//! as links relative to the page.
//!
//! The page reads only files that [`Trusted::check`] admits: after following every
//! symbolic link, inside the run directory or inside a samples folder that the user named
//! (`--samples DIR`, or the `--out` of the `autoreg sample` that writes the page). A run
//! directory received from someone else can therefore not pull the reader's own files
//! into a page they then share; what falls outside is left out with a warning.

use crate::config::Config;
use crate::registry::SavedTokenizer;
use crate::run::samples::{SampleRecord, SampleSet, read_samples};
use anyhow::{Context, Result};
use autoreg_tokens::write_atomic;
use autoreg_train::{EvalRecord, MetricsLog, RunDir};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The largest file put into the page as a data URI; a larger one is linked.
pub const EMBED_LIMIT: u64 = 2 * 1024 * 1024;
/// The most text of one file shown in the page.
const TEXT_LIMIT: usize = 64 * 1024;
/// The most sample sets shown, the latest.
const MAX_SETS: usize = 20;
/// The page's template.
const TEMPLATE: &str = include_str!("../templates/report.html");

/// Where a path leads, for [`Trusted::check`].
#[derive(Debug, PartialEq, Eq)]
enum Access {
    /// Inside a trusted folder: the real path (every link followed), the one to read.
    Inside(PathBuf),
    /// Outside them all: the real path, for the warning.
    Outside(PathBuf),
    /// Nothing there (or it cannot be resolved): there is nothing to show.
    Missing,
}

/// Why a file is left out of the page.
const OUTSIDE: &str = "outside the run directory and the named samples folders: left out";

/// The folders whose files a report may read, their real paths: the run directory and
/// the folders named on the command line, as samples folders (`report --samples DIR`) or
/// as the output folder of the `autoreg sample` that writes the page
/// (`sample --out DIR --report`). Every file the page reads (the run's own files,
/// recorded samples, a folder's files) goes through [`Trusted::check`];
/// `samples.jsonl` alone, which the run's author wrote, trusts nothing, so samples that
/// `autoreg sample` wrote outside the run directory show only when their folder is
/// named with `--samples`.
struct Trusted {
    run: PathBuf,
    folders: Vec<PathBuf>,
}

impl Trusted {
    /// The run directory `run_dir` and the `folders` that the user named.
    fn new(run_dir: &Path, folders: &[PathBuf]) -> Result<Self> {
        let folder = |d: &PathBuf| {
            std::fs::canonicalize(d).with_context(|| format!("cannot read the samples folder {}", d.display()))
        };
        let folders = folders.iter().map(folder).collect::<Result<Vec<_>>>()?;
        let run =
            std::fs::canonicalize(run_dir).with_context(|| format!("{} is not a run directory", run_dir.display()))?;
        Ok(Self { run, folders })
    }

    /// The one rule: `path` may be read when its real path, every symbolic link followed,
    /// lies inside the run directory or inside a trusted folder. A relative path is taken
    /// from the run directory.
    fn check(&self, path: &Path) -> Access {
        match std::fs::canonicalize(self.run.join(path)) {
            Ok(real) if std::iter::once(&self.run).chain(&self.folders).any(|root| real.starts_with(root)) => {
                Access::Inside(real)
            }
            Ok(real) => Access::Outside(real),
            Err(_) => Access::Missing,
        }
    }

    /// The run's file `name`, to read: its real path, or its path when there is none;
    /// `None`, with a warning, when [`Trusted::check`] does not admit it.
    fn run_file(&self, name: &str) -> Option<PathBuf> {
        let path = self.run.join(name);
        match self.check(&path) {
            Access::Inside(real) => Some(real),
            Access::Outside(real) => {
                log::warn!("{} leads to {}, {OUTSIDE}", path.display(), real.display());
                None
            }
            Access::Missing => Some(path),
        }
    }

    /// `set` with the files that [`Trusted::check`] admits, as their real paths, and the
    /// samples that keep a file; each file left out is pushed to `left_out`, with its
    /// real path. A sample whose own file is left out is no longer read as text.
    fn admit(&self, set: &SampleSet, left_out: &mut Vec<(PathBuf, PathBuf)>) -> SampleSet {
        let mut admit = |f: &PathBuf| match self.check(f) {
            Access::Inside(real) => Some(real),
            Access::Outside(real) => {
                left_out.push((f.clone(), real));
                None
            }
            Access::Missing => None,
        };
        let overview = set.overview.as_ref().and_then(&mut admit);
        let mut samples = Vec::new();
        for s in &set.samples {
            let files: Vec<Option<PathBuf>> = s.files.iter().map(&mut admit).collect();
            let printable = s.printable && files.first().is_some_and(Option::is_some);
            let files: Vec<PathBuf> = files.into_iter().flatten().collect();
            if !files.is_empty() {
                samples.push(SampleRecord { files, label: s.label.clone(), printable });
            }
        }
        SampleSet { overview, samples, ..set.clone() }
    }
}

/// The sample sets of a folder that nothing recorded: its files grouped by stem.
fn folder_set(dir: &Path) -> Result<SampleSet> {
    let dir = &std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the samples folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut samples: Vec<SampleRecord> = Vec::new();
    for file in files {
        let stem = file.file_stem().map(|s| s.to_os_string());
        match samples.last_mut() {
            Some(last) if last.files[0].file_stem().map(|s| s.to_os_string()) == stem => last.files.push(file),
            _ => samples.push(SampleRecord { files: vec![file], label: None, printable: false }),
        }
    }
    // The sample's own file first: what is neither a picture nor a sound, else the sound.
    for s in &mut samples {
        s.files.sort_by_key(|f| match Kind::of(f) {
            Kind::Image => 2,
            Kind::Audio => 1,
            Kind::Text | Kind::Other => 0,
        });
    }
    Ok(SampleSet { time: None, out: dir.clone(), step: None, label: None, overview: None, samples })
}

/// How a file is shown, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Image,
    Audio,
    Text,
    Other,
}

impl Kind {
    /// The kind of `path` by its extension; text is only known from its contents.
    fn of(path: &Path) -> Self {
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        match ext.as_str() {
            "png" | "jpg" | "jpeg" | "gif" | "bmp" | "webp" | "svg" => Self::Image,
            "wav" | "mp3" | "ogg" | "oga" | "flac" => Self::Audio,
            "txt" | "md" => Self::Text,
            _ => Self::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Text => "text",
            Self::Other => "other",
        }
    }
}

/// The MIME type of a file, by extension.
fn mime(path: &Path) -> &'static str {
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        "mid" | "midi" => "audio/midi",
        _ => "application/octet-stream",
    }
}

/// Standard base64 with padding, for data URIs.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Bytes percent-encoded in a link's path segment: all but RFC 3986's unreserved ones.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A link from the page's folder to `path` (both absolute): relative, with each path
/// segment percent-encoded.
fn href(page_dir: &Path, path: &Path) -> String {
    let rel = pathdiff::diff_paths(path, page_dir).unwrap_or_else(|| path.to_path_buf());
    let segments: Vec<String> = rel
        .components()
        .map(|part| percent_encoding::utf8_percent_encode(&part.as_os_str().to_string_lossy(), SEGMENT).to_string())
        .collect();
    segments.join("/")
}

/// One file as the template shows it.
#[derive(Serialize)]
struct FileView {
    /// `image`, `audio`, `text` or `other`.
    kind: &'static str,
    name: String,
    /// A data URI or a relative link.
    src: String,
    /// Whether `src` is a data URI.
    embedded: bool,
    /// The text, for text files.
    text: Option<String>,
    size: String,
    /// How an image is shown, when its size is known from its header.
    display: Option<Display>,
}

/// The widest an image is shown, in CSS pixels: the page's column (the body is 1100
/// pixels wide at most, less its padding).
const COLUMN: u32 = 1024;
/// The box that a sample's picture is enlarged to fit (several share a row).
const SAMPLE_BOX: u32 = 256;
/// The box that a picture of all the samples (a grid) is enlarged to fit.
const OVERVIEW_BOX: u32 = 768;

/// How an image is shown: its size on the page, and whether its pixels are drawn as
/// sharp squares (`image-rendering: pixelated`) or smoothed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
struct Display {
    width: u32,
    height: u32,
    pixelated: bool,
}

impl Display {
    /// An image of `width` x `height` pixels: enlarged by the largest whole factor that
    /// keeps it within `fit` x `fit` (at least 1, its own size), each pixel a sharp
    /// square of that many screen pixels. One wider than [`COLUMN`] is shrunk by the
    /// smallest whole factor that brings it within, smoothed (nearest-neighbour
    /// shrinking would drop rows and columns of pixels).
    fn new(width: u32, height: u32, fit: u32) -> Self {
        if width > COLUMN {
            let k = width.div_ceil(COLUMN);
            return Self { width: width.div_ceil(k), height: height.div_ceil(k).max(1), pixelated: false };
        }
        let k = (fit / width.max(1)).min(fit / height.max(1)).max(1);
        // No enlargement past the column, whatever the box.
        let k = k.min(COLUMN / width.max(1)).max(1);
        Self { width: width * k, height: height * k, pixelated: true }
    }
}

/// The size in pixels of a PNG, GIF or BMP image, from its header; `None` for other
/// formats or an unreadable header.
fn image_size(path: &Path) -> Option<(u32, u32)> {
    use image::{ImageFormat, ImageReader};
    let reader = ImageReader::open(path).ok()?.with_guessed_format().ok()?;
    matches!(reader.format()?, ImageFormat::Png | ImageFormat::Gif | ImageFormat::Bmp).then_some(())?;
    reader.into_dimensions().ok().filter(|&(width, height)| width > 0 && height > 0)
}

/// A human-readable size.
fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

/// The view of one file, `None` when it no longer exists; an image is enlarged to fit
/// `fit` x `fit` pixels (see [`Display::new`]).
fn file_view(page_dir: &Path, path: &Path, printable: bool, fit: u32) -> Option<FileView> {
    let meta = std::fs::metadata(path).ok()?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut kind = Kind::of(path);
    let mut text = None;
    if matches!(kind, Kind::Text | Kind::Other) && (printable || kind == Kind::Text || meta.len() <= TEXT_LIMIT as u64)
    {
        let bytes = std::fs::read(path).ok()?;
        let shown = &bytes[..bytes.len().min(TEXT_LIMIT)];
        let readable = std::str::from_utf8(shown).is_ok_and(|s| !s.contains('\0'));
        if printable || kind == Kind::Text || readable {
            let mut t = String::from_utf8_lossy(shown).into_owned();
            if bytes.len() > TEXT_LIMIT {
                t.push_str(&format!("\n[... {} more]", size_text((bytes.len() - TEXT_LIMIT) as u64)));
            }
            text = Some(t);
            kind = Kind::Text;
        }
    }
    let embedded = meta.len() <= EMBED_LIMIT && kind != Kind::Text;
    let src = if embedded {
        match std::fs::read(path) {
            Ok(bytes) => format!("data:{};base64,{}", mime(path), base64(&bytes)),
            Err(_) => href(page_dir, path),
        }
    } else {
        href(page_dir, path)
    };
    let display = match kind {
        Kind::Image => image_size(path).map(|(w, h)| Display::new(w, h, fit)),
        _ => None,
    };
    Some(FileView { kind: kind.name(), name, src, embedded, text, size: size_text(meta.len()), display })
}

#[derive(Serialize)]
struct SampleView {
    label: Option<String>,
    files: Vec<FileView>,
}

#[derive(Serialize)]
struct SetView {
    title: String,
    label: Option<String>,
    overview: Option<FileView>,
    samples: Vec<SampleView>,
}

/// The view of a sample set: the files that still exist.
fn set_view(page_dir: &Path, set: &SampleSet) -> SetView {
    let mut title = set.out.display().to_string();
    if let Some(step) = set.step {
        title.push_str(&format!(", step {step}"));
    }
    if let Some(time) = &set.time {
        title.push_str(&format!(", {time}"));
    }
    let samples = set
        .samples
        .iter()
        .map(|s| SampleView {
            label: s.label.clone(),
            files: s
                .files
                .iter()
                .enumerate()
                .filter_map(|(i, f)| file_view(page_dir, f, i == 0 && s.printable, SAMPLE_BOX))
                .collect(),
        })
        .filter(|s| !s.files.is_empty())
        .collect();
    let overview = set.overview.as_deref().and_then(|o| file_view(page_dir, o, false, OVERVIEW_BOX));
    SetView { title, label: set.label.clone(), overview, samples }
}

/// A tick on an axis of the loss plot.
#[derive(Serialize)]
struct Tick {
    at: f64,
    label: String,
}

/// The loss plot, in SVG coordinates.
#[derive(Serialize)]
struct Plot {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    train: String,
    val: String,
    x_ticks: Vec<Tick>,
    y_ticks: Vec<Tick>,
    best_x: f64,
    best_y: f64,
    best_label: String,
}

/// Round tick values covering `lo..=hi`, about `n` of them.
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-6 {
        out.push(v);
        v += step;
    }
    out
}

/// Draws the training and validation losses, the best validation loss marked.
fn plot(records: &[EvalRecord]) -> Option<Plot> {
    let best = records.iter().filter(|r| r.val_loss.is_finite()).min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))?;
    let (width, height, left, right, top, bottom) = (760.0, 320.0, 60.0, 740.0, 20.0, 280.0);
    let max_step = records.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
    let losses = records.iter().flat_map(|r| [r.train_loss, r.val_loss]).filter(|l| l.is_finite());
    let (lo, hi) = losses.fold((f64::MAX, f64::MIN), |(lo, hi), l| (lo.min(l), hi.max(l)));
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let (lo, hi) = (lo - pad, hi + pad);
    let x = |step: f64| left + (right - left) * step / max_step;
    let y = |loss: f64| bottom - (bottom - top) * (loss - lo) / (hi - lo);
    let line = |pick: fn(&EvalRecord) -> f64| -> String {
        let points: Vec<String> = records
            .iter()
            .filter(|r| pick(r).is_finite())
            .map(|r| format!("{:.1},{:.1}", x(r.step as f64), y(pick(r))))
            .collect();
        points.join(" ")
    };
    Some(Plot {
        width,
        height,
        left,
        right,
        top,
        bottom,
        train: line(|r| r.train_loss),
        val: line(|r| r.val_loss),
        // Steps are whole: a short run's ticks between them (0.2, 0.4, ...) are left out.
        x_ticks: ticks(0.0, max_step, 6)
            .into_iter()
            .filter(|s| (s - s.round()).abs() < 1e-6)
            .map(|s| Tick { at: x(s.round()), label: format!("{:.0}", s.round()) })
            .collect(),
        y_ticks: {
            let values = ticks(lo, hi, 5);
            // As many decimals as the ticks' spacing needs.
            let spacing = values.windows(2).map(|w| w[1] - w[0]).next().unwrap_or(1.0);
            let decimals = (-spacing.log10().floor()).max(0.0) as usize;
            values.into_iter().map(|l| Tick { at: y(l), label: format!("{l:.decimals$}") }).collect()
        },
        best_x: x(best.step as f64),
        best_y: y(best.val_loss),
        best_label: format!("best: step {}, validation {:.4}", best.step, best.val_loss),
    })
}

/// A row of the evaluation table.
#[derive(Serialize)]
struct EvalRow {
    model: String,
    cells: Vec<String>,
}

/// The evaluation table.
#[derive(Serialize)]
struct EvalTable {
    step: String,
    columns: Vec<String>,
    rows: Vec<EvalRow>,
}

/// The table of the run's `eval.json` at `path`, if there is one.
fn eval_table(path: &Path) -> Result<Option<EvalTable>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    // A run of several sources has each source's models, each source with its unit.
    let (unit, models): (Option<&str>, Vec<(String, &serde_json::Value)>) = match json["sources"].as_array() {
        Some(sources) => {
            let models = sources.iter().flat_map(|source| {
                let name = format!(
                    "{} (per {})",
                    source["source"].as_str().unwrap_or("?"),
                    source["unit"].as_str().unwrap_or("?")
                );
                let models = source["models"].as_array().into_iter().flatten();
                models.map(move |m| (format!("{name}: {}", m["model"].as_str().unwrap_or("?")), m))
            });
            (Some("unit"), models.collect())
        }
        None => {
            let models = json["models"].as_array().into_iter().flatten();
            (json["unit"].as_str(), models.map(|m| (m["model"].as_str().unwrap_or("?").to_owned(), m)).collect())
        }
    };
    let mut columns: Vec<String> = ["nats/token", "bits/token", "nats/document"].map(String::from).to_vec();
    if let Some(u) = unit {
        columns.push(format!("nats/{u}"));
        columns.push(format!("bits/{u}"));
    }
    let num = |v: &serde_json::Value| v.as_f64().map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into());
    let rows = models
        .into_iter()
        .map(|(model, m)| {
            let mut cells = vec![num(&m["nats_per_token"]), num(&m["bits_per_token"]), num(&m["nats_per_document"])];
            if unit.is_some() {
                let per_unit = m["nats_per_unit"].as_f64();
                cells.push(num(&m["nats_per_unit"]));
                cells.push(per_unit.map(|n| format!("{:.4}", n / std::f64::consts::LN_2)).unwrap_or("-".into()));
            }
            EvalRow { model, cells }
        })
        .collect();
    let step = json["step"].as_i64().map(|s| s.to_string()).unwrap_or_else(|| "?".into());
    Ok(Some(EvalTable { step, columns, rows }))
}

/// Everything the template shows.
#[derive(Serialize)]
struct PageView {
    name: String,
    generated: String,
    facts: Vec<(String, String)>,
    config: String,
    history: String,
    plot: Option<Plot>,
    evaluations: usize,
    eval: Option<EvalTable>,
    sets: Vec<SetView>,
    embed_limit: String,
}

/// The files of a set: its samples' and its overview.
fn set_files(set: &SampleSet) -> impl Iterator<Item = &PathBuf> {
    set.samples.iter().flat_map(|s| &s.files).chain(&set.overview)
}

/// Warns of the files that `samples.jsonl` names outside the trusted folders: the first
/// few by name, then how many more, then how to show samples written elsewhere.
fn warn_left_out(left_out: &[(PathBuf, PathBuf)]) {
    const NAMED: usize = 3;
    for (file, real) in left_out.iter().take(NAMED) {
        if file == real {
            log::warn!("samples.jsonl names {}, {OUTSIDE}", file.display());
        } else {
            log::warn!("samples.jsonl names {} (that is {}), {OUTSIDE}", file.display(), real.display());
        }
    }
    if left_out.len() > NAMED {
        let more = left_out.len() - NAMED;
        log::warn!("samples.jsonl names {more} more file{}, {OUTSIDE}", if more == 1 { "" } else { "s" });
    }
    if !left_out.is_empty() {
        log::warn!("to show the samples that `autoreg sample` wrote to a folder, name it: --samples DIR");
    }
}

/// A parameter count as `1.23M` or `45.6K`.
fn count_text(n: f64) -> String {
    match n {
        n if n >= 1e6 => format!("{:.2}M", n / 1e6),
        n if n >= 1e3 => format!("{:.1}K", n / 1e3),
        n => format!("{n:.0}"),
    }
}

/// Writes the report of the run in `run_dir` to `out` (default `RUN/report.html`): its
/// recorded sample sets, then a set per folder of `samples`. Returns the page's path.
///
/// It reads only the files that [`Trusted`] admits: those inside the run directory, the
/// folders of `samples`, and the folders of `trusted`, whose recorded samples show but
/// whose other files do not (`sample --out DIR --report` names its `DIR` so, as the
/// user named it on the command line); symbolic links are followed. Any other file,
/// named in `samples.jsonl` or reached through a link, is left out with a warning.
pub fn write_report(run_dir: &Path, samples: &[PathBuf], trusted: &[PathBuf], out: Option<&Path>) -> Result<PathBuf> {
    let run = RunDir::new(run_dir);
    let folders: Vec<PathBuf> = samples.iter().chain(trusted).cloned().collect();
    let trusted = Trusted::new(run_dir, &folders)?;
    let file_name = |p: PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let required = |p: PathBuf| {
        let name = file_name(p);
        trusted.run_file(&name).with_context(|| format!("the run's {name} leads outside the run directory"))
    };
    let config_path = required(run.config_path())?;
    let config =
        Config::load(&config_path, &[]).with_context(|| format!("{} is not a run directory", run_dir.display()))?;
    let config_text =
        std::fs::read_to_string(&config_path).with_context(|| format!("cannot read {}", config_path.display()))?;
    let history = match trusted.run_file(&file_name(run.history_path())).map(std::fs::read_to_string) {
        None => String::new(),
        Some(Ok(history)) => history,
        Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Some(Err(e)) => return Err(e).with_context(|| format!("cannot read {}", run.history_path().display())),
    };
    let tokenizer = SavedTokenizer::load(&required(run.tokenizer_path())?)?;
    let tok = tokenizer.pipeline();
    let records = match trusted.run_file(&file_name(run.metrics_path())) {
        Some(path) => MetricsLog::new(path).read()?,
        None => Vec::new(),
    };
    let last = run.checkpoint("last").ok();
    let best = run.checkpoint("best").ok();

    let page = match out {
        Some(p) => p.to_path_buf(),
        None => run_dir.join("report.html"),
    };
    let page = std::path::absolute(&page).with_context(|| format!("cannot resolve {}", page.display()))?;
    let page_dir = page.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&page_dir).with_context(|| format!("cannot create {}", page_dir.display()))?;
    // The files are their real paths, so the links are from the page's real folder.
    let page_dir =
        std::fs::canonicalize(&page_dir).with_context(|| format!("cannot resolve {}", page_dir.display()))?;

    // The recorded sets, then the folders' files that no recorded set shows.
    let recorded = match trusted.run_file(&file_name(run.samples_path())) {
        Some(path) => read_samples(&path)?,
        None => Vec::new(),
    };
    let mut left_out = Vec::new();
    let mut sets: Vec<SampleSet> = recorded.iter().map(|set| trusted.admit(set, &mut left_out)).collect();
    warn_left_out(&left_out);
    let mut shown: std::collections::HashSet<PathBuf> = sets.iter().flat_map(set_files).cloned().collect();
    for dir in samples {
        let mut left_out = Vec::new();
        let mut set = trusted.admit(&folder_set(dir)?, &mut left_out);
        for (file, real) in left_out {
            log::warn!("{} leads to {}, {OUTSIDE}", file.display(), real.display());
        }
        for s in &mut set.samples {
            s.files.retain(|f| !shown.contains(f));
        }
        set.samples.retain(|s| !s.files.is_empty());
        shown.extend(set_files(&set).cloned());
        sets.push(set);
    }
    // The latest sets first; a set recorded twice, or a set whose files all went, once.
    let mut seen = std::collections::HashSet::new();
    let views: Vec<SetView> = sets
        .iter()
        .rev()
        .filter(|s| seen.insert(s.samples.iter().map(|r| r.files.clone()).collect::<Vec<_>>()))
        .map(|s| set_view(&page_dir, s))
        .filter(|v| !v.samples.is_empty() || v.overview.is_some())
        .take(MAX_SETS)
        .collect();

    let fmt_loss = |l: f64| if l.is_finite() { format!("{l:.4}") } else { "-".into() };
    let facts: Vec<(String, String)> = [
        ("modality", tok.kind().to_owned()),
        ("vocabulary", format!("{} tokens", tok.vocab_size())),
        ("parameters", count_text(config.model.num_params(tok.vocab_size()))),
        (
            "device",
            match last.as_ref().and_then(|c| c.state.device.clone()) {
                Some(used) => format!("{used} (train.device = {})", config.train.device),
                None => config.train.device.to_string(),
            },
        ),
        (
            "model",
            format!(
                "{} layers, {} heads, {} wide, context {}",
                config.model.n_layer, config.model.n_head, config.model.n_embd, config.model.block_size
            ),
        ),
        (
            "training",
            match &last {
                Some(c) => format!(
                    "step {} of {}, {}",
                    c.state.step,
                    config.train.max_steps,
                    humantime::format_duration(std::time::Duration::from_secs(c.state.elapsed_s.max(0.0) as u64))
                ),
                None => "no checkpoint yet".into(),
            },
        ),
        (
            "last",
            last.as_ref()
                .map(|c| {
                    format!(
                        "train loss {}, validation loss {}",
                        fmt_loss(c.state.train_loss),
                        fmt_loss(c.state.val_loss)
                    )
                })
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "best",
            best.as_ref()
                .map(|c| format!("step {}, validation loss {}", c.state.step, fmt_loss(c.state.val_loss)))
                .unwrap_or_else(|| "-".into()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    let eval = match trusted.run_file("eval.json") {
        Some(path) => eval_table(&path)?,
        None => None,
    };
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE).context("the report template is broken")?;
    let html = env
        .get_template("report.html")
        .and_then(|t| {
            t.render(minijinja::Value::from(minijinja::value::Serde(PageView {
                name: config.name.clone(),
                generated: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
                facts,
                config: config_text,
                history,
                plot: plot(&records),
                evaluations: records.len(),
                eval,
                sets: views,
                embed_limit: size_text(EMBED_LIMIT),
            })))
        })
        .context("cannot render the report")?;
    write_atomic(&page, html.as_bytes())?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, coded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn links_are_relative_and_encoded() {
        assert_eq!(href(Path::new("/a/runs/x"), Path::new("/a/out/m y.wav")), "../../out/m%20y.wav");
        assert_eq!(href(Path::new("/a"), Path::new("/a/b.png")), "b.png");
    }

    #[test]
    fn small_media_are_embedded_and_large_ones_linked() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("run");
        let small = dir.path().join("out/a.wav");
        let large = dir.path().join("out/b.wav");
        std::fs::create_dir_all(small.parent().unwrap()).unwrap();
        std::fs::write(&small, b"RIFF").unwrap();
        std::fs::write(&large, vec![0u8; EMBED_LIMIT as usize + 1]).unwrap();
        let v = file_view(&page, &small, false, SAMPLE_BOX).unwrap();
        assert_eq!((v.kind, v.embedded, v.src.as_str()), ("audio", true, "data:audio/wav;base64,UklGRg=="));
        let v = file_view(&page, &large, false, SAMPLE_BOX).unwrap();
        assert_eq!((v.kind, v.embedded, v.src.as_str()), ("audio", false, "../out/b.wav"));
        assert!(file_view(&page, &dir.path().join("gone.png"), false, SAMPLE_BOX).is_none());
    }

    #[test]
    fn a_folder_groups_each_sample_with_its_companions() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["m.png", "m.mid", "m.wav", "s.txt", "w.png", "w.wav"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let set = folder_set(dir.path()).unwrap();
        let names: Vec<Vec<String>> = set
            .samples
            .iter()
            .map(|s| s.files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect())
            .collect();
        assert_eq!(names, [vec!["m.mid", "m.wav", "m.png"], vec!["s.txt"], vec!["w.wav", "w.png"]]);
    }

    #[test]
    fn only_files_inside_the_run_or_a_named_folder_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        for folder in ["run", "more", "elsewhere"] {
            std::fs::create_dir(root.join(folder)).unwrap();
        }
        for file in ["run/a.txt", "more/b.txt", "elsewhere/secret.txt"] {
            std::fs::write(root.join(file), b"x").unwrap();
        }
        std::os::unix::fs::symlink(root.join("elsewhere/secret.txt"), root.join("more/link.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("more/b.txt"), root.join("run/inside.txt")).unwrap();
        let trusted = Trusted::new(&root.join("run"), &[root.join("more")]).unwrap();
        let secret = root.join("elsewhere/secret.txt");
        assert_eq!(trusted.check(Path::new("a.txt")), Access::Inside(root.join("run/a.txt")));
        assert_eq!(trusted.check(&root.join("more/b.txt")), Access::Inside(root.join("more/b.txt")));
        assert_eq!(trusted.check(&root.join("run/inside.txt")), Access::Inside(root.join("more/b.txt")));
        assert_eq!(trusted.check(&root.join("more/link.txt")), Access::Outside(secret.clone()));
        assert_eq!(trusted.check(Path::new("../elsewhere/secret.txt")), Access::Outside(secret.clone()));
        assert_eq!(trusted.check(&root.join("run/../elsewhere/secret.txt")), Access::Outside(secret.clone()));
        assert_eq!(trusted.check(&secret), Access::Outside(secret.clone()));
        assert_eq!(trusted.check(Path::new("gone.txt")), Access::Missing);
        std::os::unix::fs::symlink(&secret, root.join("run/link.txt")).unwrap();
        assert_eq!(trusted.run_file("a.txt"), Some(root.join("run/a.txt")));
        assert_eq!(trusted.run_file("link.txt"), None);
        assert_eq!(trusted.run_file("gone.txt"), Some(root.join("run/gone.txt")));

        let record = |files: &[&Path]| SampleRecord {
            files: files.iter().map(|f| f.to_path_buf()).collect(),
            label: None,
            printable: true,
        };
        let set = SampleSet {
            time: None,
            out: root.join("more"),
            step: None,
            label: None,
            overview: Some(secret.clone()),
            samples: vec![record(&[&secret, &root.join("more/b.txt")]), record(&[Path::new("a.txt")])],
        };
        let mut left_out = Vec::new();
        let admitted = trusted.admit(&set, &mut left_out);
        assert_eq!(admitted.overview, None);
        let files: Vec<(&[PathBuf], bool)> =
            admitted.samples.iter().map(|s| (s.files.as_slice(), s.printable)).collect();
        assert_eq!(files, [(&[root.join("more/b.txt")][..], false), (&[root.join("run/a.txt")][..], true)]);
        assert_eq!(left_out, [(secret.clone(), secret.clone()), (secret.clone(), secret)]);
    }

    #[test]
    fn pixels_are_shown_at_whole_multiples() {
        // Small pictures are enlarged by the largest whole factor that fits the box.
        assert_eq!(Display::new(8, 8, SAMPLE_BOX), Display { width: 256, height: 256, pixelated: true });
        assert_eq!(Display::new(64, 64, SAMPLE_BOX), Display { width: 256, height: 256, pixelated: true });
        assert_eq!(Display::new(28, 28, SAMPLE_BOX), Display { width: 252, height: 252, pixelated: true });
        assert_eq!(Display::new(71, 89, OVERVIEW_BOX), Display { width: 568, height: 712, pixelated: true });
        // A picture as large as the box, or larger but within the column, as it is.
        assert_eq!(Display::new(519, 649, OVERVIEW_BOX), Display { width: 519, height: 649, pixelated: true });
        assert_eq!(Display::new(800, 300, SAMPLE_BOX), Display { width: 800, height: 300, pixelated: true });
        assert_eq!(Display::new(1024, 10, OVERVIEW_BOX), Display { width: 1024, height: 10, pixelated: true });
        // A wider one is shrunk by a whole factor, smoothly.
        assert_eq!(Display::new(4000, 500, SAMPLE_BOX), Display { width: 1000, height: 125, pixelated: false });
        assert_eq!(Display::new(1025, 3, SAMPLE_BOX), Display { width: 513, height: 2, pixelated: false });
        // A tall, narrow picture is enlarged within the box's height too.
        assert_eq!(Display::new(2, 100, SAMPLE_BOX), Display { width: 4, height: 200, pixelated: true });
    }

    #[test]
    fn image_sizes_are_read_from_headers() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        image::RgbImage::new(8, 5).save(&png).unwrap();
        assert_eq!(image_size(&png), Some((8, 5)));
        let gif = dir.path().join("b.gif");
        image::RgbaImage::new(3, 7).save(&gif).unwrap();
        assert_eq!(image_size(&gif), Some((3, 7)));
        let bmp = dir.path().join("c.bmp");
        image::RgbImage::new(9, 4).save(&bmp).unwrap();
        assert_eq!(image_size(&bmp), Some((9, 4)));
        let other = dir.path().join("d.png");
        std::fs::write(&other, b"not a picture").unwrap();
        assert_eq!(image_size(&other), None);
        let v = file_view(dir.path(), &png, false, SAMPLE_BOX).unwrap();
        assert_eq!(v.display, Some(Display { width: 256, height: 160, pixelated: true }));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 100.0, 5), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    }

    #[test]
    fn step_ticks_are_whole_steps() {
        let record = |step: i64| EvalRecord {
            step,
            train_loss: 2.0 - step as f64 * 0.01,
            val_loss: 2.1 - step as f64 * 0.01,
            lr: 1e-3,
            tokens_per_s: 1.0,
            elapsed_s: 1.0,
        };
        let labels = |records: &[EvalRecord]| -> Vec<String> {
            plot(records).unwrap().x_ticks.into_iter().map(|t| t.label).collect()
        };
        assert_eq!(labels(&[record(0), record(1)]), ["0", "1"]);
        assert_eq!(labels(&[record(0), record(3)]), ["0", "1", "2", "3"]);
        assert_eq!(labels(&[record(0), record(20)]), ["0", "5", "10", "15", "20"]);
    }
}
