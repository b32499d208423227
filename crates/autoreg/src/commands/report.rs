//! `autoreg report`.

use crate::cli::ReportArgs;
use crate::page::write_report;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// Writes the run's report page; returns its path. The page reads only the files inside
/// the run directory and the `--samples` folders, links followed; see
/// [`write_report`].
pub fn report(args: &ReportArgs) -> Result<PathBuf> {
    let page = write_report(&args.run_dir, &args.samples, &[], args.out.as_deref())
        .with_context(|| format!("cannot write the report of {}", args.run_dir.display()))?;
    eprintln!("wrote {}", page.display());
    Ok(page)
}
