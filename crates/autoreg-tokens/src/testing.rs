//! For the tests of modality crates (feature `testing`): a logger that keeps every
//! message, shared by the tests of one binary, and [`Tokenize`], a modality called as a
//! whole tokenizer.

use crate::{Identity, Modality, Pipeline, Source, TokenError};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// Keeps every log message as `LEVEL: message`.
struct Keep(Mutex<Vec<String>>);

impl log::Log for Keep {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        if let Ok(mut kept) = self.0.lock() {
            kept.push(format!("{}: {}", record.level(), record.args()));
        }
    }

    fn flush(&self) {}
}

static KEPT: Keep = Keep(Mutex::new(Vec::new()));

/// Installs the keeping logger (once; later calls do nothing).
pub fn keep_logs() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if log::set_logger(&KEPT).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
    });
}

/// The messages kept so far that contain `marker`, in order. Tests run in parallel and
/// share the logger, so each names its files uniquely.
pub fn logged(marker: &str) -> Vec<String> {
    KEPT.0.lock().map(|kept| kept.iter().filter(|m| m.contains(marker)).cloned().collect()).unwrap_or_default()
}

/// The whole-tokenizer view of a modality without subwords, for tests: what
/// [`Pipeline`] does, called on the modality itself with bytes and a name.
pub trait Tokenize: Modality + Sized {
    /// The pipeline of this modality with the identity id model.
    fn with<T>(&self, f: impl FnOnce(Pipeline<'_>) -> T) -> T {
        f(Pipeline::new(self, &Identity { vocab_size: self.vocab_size() }))
    }

    /// Encodes `bytes`, the contents of a file called `name`.
    fn encode_bytes(&self, bytes: &[u8], name: &str) -> Result<Vec<Vec<u32>>, TokenError> {
        self.encode(&Source::new(Path::new(name), bytes))
    }

    /// Reads and encodes the file at `path`.
    fn encode_file(&self, path: &Path) -> Result<Vec<Vec<u32>>, TokenError> {
        self.with(|p| p.encode_file(path))
    }

    /// The bytes of the file that `ids` decode to (see [`Pipeline::decode`]).
    fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>, TokenError> {
        self.with(|p| p.decode(ids)).map(|d| d.bytes)
    }

    /// Decodes `ids` and writes the file at `path`.
    fn decode_to_file(&self, ids: &[u32], path: &Path) -> Result<(), TokenError> {
        crate::write_atomic(path, &self.decode_bytes(ids)?)
    }

    /// The prompt of `bytes`, a file called `name` (see [`Pipeline::prompt`]).
    fn prompt_bytes(&self, bytes: &[u8], name: &str, length: Option<f64>) -> Result<Vec<u32>, TokenError> {
        self.with(|p| p.prompt(&Source::new(Path::new(name), bytes), length))
    }

    /// The class names.
    fn classes(&self) -> Vec<String> {
        self.with(|p| p.classes().to_vec())
    }

    /// See [`Pipeline::class_prompt`].
    fn class_prompt(&self, class: usize) -> Result<Vec<u32>, TokenError> {
        self.with(|p| p.class_prompt(class))
    }

    /// See [`Pipeline::prefix_len`].
    fn prefix_len(&self, doc: &[u32]) -> usize {
        self.with(|p| p.prefix_len(doc))
    }

    /// See [`Pipeline::augment`].
    fn augment(&self, window: &mut Vec<u32>, draw: u64) {
        self.with(|p| p.augment(window, draw))
    }

    /// See [`Pipeline::unit`].
    fn unit(&self) -> Option<&'static str> {
        self.with(|p| p.unit())
    }

    /// See [`Pipeline::count_units`].
    fn count_units(&self, doc: &[u32]) -> usize {
        self.with(|p| p.count_units(doc))
    }

    /// See [`Pipeline::write_companions`].
    fn write_companions(&self, ids: &[u32], path: &Path) -> Result<Vec<PathBuf>, TokenError> {
        self.with(|p| p.write_companions(ids, path))
    }

    /// See [`Pipeline::write_overview`].
    fn write_overview(&self, rows: &[Vec<Vec<u32>>], path: &Path) -> Result<bool, TokenError> {
        self.with(|p| p.write_overview(rows, path))
    }

    /// See [`Pipeline::companion_inputs`].
    fn companion_inputs(&self, path: &Path) -> Vec<PathBuf> {
        self.with(|p| p.companion_inputs(path))
    }

    /// See [`Pipeline::check_range`].
    fn check_range(&self, ids: &[u32]) -> Result<(), TokenError> {
        self.with(|p| p.check_range(ids))
    }
}

impl<M: Modality> Tokenize for M {}
