//! For the tests of modality crates (feature `testing`): a logger that keeps every
//! message, shared by the tests of one binary.

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
