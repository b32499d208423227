//! A run's `samples.jsonl`: what each `autoreg sample` wrote, for its report page.

use super::append_line;
use anyhow::{Context, Result};
use autoreg_train::RunDir;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One sample and its companions, as `autoreg sample` wrote them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SampleRecord {
    /// The sample's file first, then its companions (absolute paths).
    pub files: Vec<PathBuf>,
    /// The class or prompt it was drawn for.
    pub label: Option<String>,
    /// Whether the sample's file reads as text (the tokenizer says so).
    pub printable: bool,
}

/// One `autoreg sample` command's output: a line of the run's `samples.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SampleSet {
    /// When it was written (RFC 3339); unknown for a folder that nothing recorded.
    pub time: Option<String>,
    /// The output folder (absolute).
    pub out: PathBuf,
    /// The step of the checkpoint that drew the samples, when known.
    pub step: Option<i64>,
    /// What the samples were drawn from: a class, a prompt, every class.
    pub label: Option<String>,
    /// A picture of all the samples together (a grid), when the modality draws one.
    pub overview: Option<PathBuf>,
    /// The samples.
    pub samples: Vec<SampleRecord>,
}

/// Appends `set` to the `samples.jsonl` of `run`, its paths made absolute. The report
/// page shows them only when their folder is trusted.
pub fn record_samples(run: &RunDir, set: &SampleSet) -> Result<()> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut set = set.clone();
    set.out = absolute(&set.out);
    set.overview = set.overview.as_deref().map(absolute);
    for s in &mut set.samples {
        s.files = s.files.iter().map(|f| absolute(f)).collect();
    }
    let mut line = serde_json::to_string(&set).context("cannot encode a sample set")?;
    line.push('\n');
    append_line(&run.samples_path(), &line)
}

/// The sample sets recorded in a run's `samples.jsonl` at `path`; a line that does not
/// read (cut short by a killed run, say) is left out with a warning naming it.
pub fn read_samples(path: &Path) -> Result<Vec<SampleSet>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| log::warn!("{}, line {}: left out of the report: {e}", path.display(), i + 1))
                    .ok()
            })
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}
