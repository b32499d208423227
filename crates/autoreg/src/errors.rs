//! What the user reads when something goes wrong: one line per error chain, warnings
//! from the libraries (the `log` crate) on standard error.

/// The error and its causes on one line, `a: b: c`, each cause once.
///
/// Library errors often print their source inside their own message (`{path}: {source}`),
/// which anyhow's chain would print a second time; a cause already in the line is
/// skipped. libtorch's messages are cut to their first lines, before the C++ frames.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let message = without_cpp_frames(&cause.to_string());
        if message.is_empty() || line.contains(&message) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&message);
    }
    line
}

/// `message` without the stack that libtorch appends (`Exception raised from ...`,
/// `frame #0: ...`), its lines joined by spaces.
fn without_cpp_frames(message: &str) -> String {
    let kept: Vec<&str> = message
        .lines()
        .take_while(|l| !l.starts_with("Exception raised from") && !l.trim_start().starts_with("frame #"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    kept.join(" ")
}

/// Prints the libraries' warnings (`log::warn!`) and errors as `warning: ...` lines.
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("warning: {}", record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the warning printer; later calls do nothing.
pub fn install_logger() {
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: {source}")]
    struct Wrapped {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::other("File name too long (os error 36)");
        let e = anyhow::Error::new(Wrapped { path: "runs/x".into(), source: io });
        assert_eq!(error_line(&e), "runs/x: File name too long (os error 36)");
        let e = Err::<(), _>(e).context("cannot resume runs/x").unwrap_err();
        assert_eq!(error_line(&e), "cannot resume runs/x: runs/x: File name too long (os error 36)");
    }

    #[test]
    fn cpp_frames_are_cut() {
        let torch = "shape mismatch for wte: [10, 4] vs [12, 4]\nException raised from load at x.cpp:12 \
                     (most recent call first):\nframe #0: c10::Error::Error() + 0x1\nframe #1: at::foo";
        let e = anyhow::anyhow!("{torch}").context("loading model.safetensors");
        assert_eq!(error_line(&e), "loading model.safetensors: shape mismatch for wte: [10, 4] vs [12, 4]");
    }
}
