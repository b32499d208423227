//! A run's data as ids: the modality's base ids, from the token cache, then the
//! tokenizer's merges.

use crate::config::Config;
use crate::registry::SavedTokenizer;
use anyhow::{Context, Result};
use autoreg_tokens::{Pipeline, TokenStore};
use autoreg_train::{Dataset, list_files, load_dataset, resolve_data_path};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The data of `config` in the base ids of `tokenizer`'s modality. The token cache
/// holds base ids, so a run with merges shares it with one without.
pub fn load_base(config: &Config, files: &[PathBuf], tokenizer: &SavedTokenizer) -> Result<Dataset> {
    let base = tokenizer.base_pipeline();
    let json = tokenizer.base_json().context("cannot write the tokenizer as JSON")?;
    Ok(load_dataset(&config.data, files, base, &json, config.train.seed)?)
}

/// `data` in the ids of `tokenizer`: base ids merged, in parallel, with a progress bar.
pub fn merged(data: Dataset, tokenizer: &SavedTokenizer) -> Dataset {
    let pipeline = tokenizer.pipeline();
    if tokenizer.bpe.is_none() {
        return data;
    }
    let bar = ProgressBar::new((data.train.num_docs() + data.val.num_docs()) as u64).with_style(
        ProgressStyle::with_template("merging {bar:30} {pos}/{len} documents {elapsed} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let train = merge_store(&data.train, pipeline, &bar);
    let val = merge_store(&data.val, pipeline, &bar);
    bar.finish_and_clear();
    Dataset { train, val, ..data }
}

fn merge_store(store: &TokenStore, pipeline: Pipeline<'_>, bar: &ProgressBar) -> TokenStore {
    let docs: Vec<&[u32]> = store.docs().collect();
    let merged: Vec<Vec<u32>> = docs
        .par_iter()
        .map(|doc| {
            bar.inc(1);
            pipeline.ids.merge(doc)
        })
        .collect();
    let mut out = TokenStore::new();
    merged.iter().for_each(|doc| out.push(doc));
    out
}

/// The files a run reads: those of `data.path`, or each source's (see
/// [`crate::sources::files`]); found from `base`, the config's folder.
pub fn files(config: &Config, base: &Path) -> Result<RunFiles> {
    if config.sources.is_empty() {
        Ok(RunFiles::One(list_files(&resolve_data_path(&config.data, base)?, &config.extensions())?))
    } else {
        Ok(RunFiles::Sources(crate::sources::files(config, base)?))
    }
}

/// The files of a run: of its one source, or of each of its sources.
pub enum RunFiles {
    /// The files under `data.path`.
    One(Vec<PathBuf>),
    /// Each source's files, in the order of `[[sources]]`.
    Sources(Vec<Vec<PathBuf>>),
}

/// The data of `config` in the ids of `tokenizer`.
pub fn load(config: &Config, files: &RunFiles, tokenizer: &SavedTokenizer) -> Result<Dataset> {
    match files {
        RunFiles::One(files) => Ok(merged(load_base(config, files, tokenizer)?, tokenizer)),
        RunFiles::Sources(files) => crate::sources::load(config, files, tokenizer),
    }
}
