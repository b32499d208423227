//! Progress bars: the command line's way of showing [`Progress`] of long steps.

use autoreg_data::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar on standard error, drawn while a step runs (indicatif draws nothing when
/// standard error is not a terminal).
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar that shows nothing until a step begins.
    pub fn new() -> Self {
        Self(ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()))
    }
}

impl Bar {
    /// Shows the bar with `template`, for `total` items.
    fn start(&self, template: &str, total: u64) {
        self.0.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        self.0.reset();
        self.0.set_length(total);
        self.0.set_draw_target(ProgressDrawTarget::stderr());
    }
}

impl Default for Bar {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Bar {
    fn begin(&self, what: &str, total: u64) {
        self.start(&format!("{what} {{bar:30}} {{pos}}/{{len}} {{elapsed}} ETA {{eta}}"), total);
    }

    fn begin_bytes(&self, what: &str, total: u64) {
        let template = format!(
            "{what} {{bar:30}} {{binary_bytes}}/{{binary_total_bytes}} {{binary_bytes_per_sec}} {{elapsed}} ETA {{eta}}"
        );
        self.start(&template, total);
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }

    fn end(&self) {
        self.0.finish_and_clear();
        self.0.set_draw_target(ProgressDrawTarget::hidden());
    }
}
