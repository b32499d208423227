//! `metrics.jsonl` (one JSON object per evaluation) and the loss-curve plot.

use crate::error::TrainError;
use autoreg_tokens::write_atomic;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One evaluation during training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Optimizer steps done.
    pub step: i64,
    /// Estimated training loss (nats per token).
    pub train_loss: f64,
    /// Estimated validation loss (nats per token).
    pub val_loss: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Training throughput since the previous evaluation.
    pub tokens_per_s: f64,
    /// Training seconds so far.
    pub elapsed_s: f64,
}

/// The append-only metrics file of a run.
pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// The log at `path` (created on the first append).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Every record; a line cut short by a kill is ignored.
    pub fn read(&self) -> Result<Vec<EvalRecord>, TrainError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(TrainError::io(&self.path, e)),
        }
    }

    /// Appends one record.
    pub fn append(&self, record: &EvalRecord) -> Result<(), TrainError> {
        let mut line = serde_json::to_string(record).map_err(|e| TrainError::Data(e.to_string()))?;
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| TrainError::io(&self.path, e))?;
        file.write_all(line.as_bytes()).map_err(|e| TrainError::io(&self.path, e))
    }

    /// Keeps only the records up to `step` (after resuming from it), atomically.
    pub fn truncate_after(&self, step: i64) -> Result<Vec<EvalRecord>, TrainError> {
        let kept: Vec<EvalRecord> = self.read()?.into_iter().filter(|r| r.step <= step).collect();
        let mut text = String::new();
        for r in &kept {
            text += &serde_json::to_string(r).map_err(|e| TrainError::Data(e.to_string()))?;
            text.push('\n');
        }
        write_atomic(&self.path, text.as_bytes())?;
        Ok(kept)
    }
}

/// Draws training and validation loss against steps into a PNG at `path` (atomically).
pub fn plot_losses(records: &[EvalRecord], title: &str, path: &Path) -> Result<(), TrainError> {
    use plotters::prelude::*;
    static FONT: std::sync::Once = std::sync::Once::new();
    // The font is compiled in, so plots need no system fonts.
    FONT.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
    let err = |e: &dyn std::fmt::Display| TrainError::Data(format!("plotting {}: {e}", path.display()));
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()));
    {
        let root = BitMapBackend::new(&tmp, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let max_step = records.iter().map(|r| r.step).max().unwrap_or(1).max(1);
        let losses = records.iter().flat_map(|r| [r.train_loss, r.val_loss]).filter(|l| l.is_finite());
        let (lo, hi) = losses.fold((f64::MAX, f64::MIN), |(lo, hi), l| (lo.min(l), hi.max(l)));
        let (lo, hi) = if lo <= hi { (lo * 0.95, hi * 1.05) } else { (0.0, 1.0) };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0..max_step, lo..hi)
            .map_err(|e| err(&e))?;
        chart.configure_mesh().x_desc("step").y_desc("loss (nats/token)").draw().map_err(|e| err(&e))?;
        for (name, color, pick) in [
            ("train", BLUE, (|r: &EvalRecord| r.train_loss) as fn(&EvalRecord) -> f64),
            ("validation", RED, |r: &EvalRecord| r.val_loss),
        ] {
            chart
                .draw_series(LineSeries::new(records.iter().map(|r| (r.step, pick(r))), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw().map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(step: i64, loss: f64) -> EvalRecord {
        EvalRecord { step, train_loss: loss, val_loss: loss + 0.1, lr: 1e-3, tokens_per_s: 1.0, elapsed_s: 1.0 }
    }

    #[test]
    fn appends_reads_and_truncates_ignoring_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = MetricsLog::new(dir.path().join("m.jsonl"));
        assert!(log.read().unwrap().is_empty());
        for s in [0, 10, 20] {
            log.append(&record(s, 3.0 - s as f64 / 10.0)).unwrap();
        }
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join("m.jsonl")).unwrap();
        f.write_all(b"{\"step\": 30, \"train_lo").unwrap();
        assert_eq!(log.read().unwrap().len(), 3);
        assert_eq!(log.truncate_after(10).unwrap(), vec![record(0, 3.0), record(10, 2.0)]);
        assert_eq!(log.read().unwrap().len(), 2);
    }

    #[test]
    fn plots_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        plot_losses(&[record(0, 4.0), record(50, 2.5), record(100, 2.0)], "test", &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}
