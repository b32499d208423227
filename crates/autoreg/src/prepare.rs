//! How a run learns its tokenizer and reads its data, for a run of one source and of
//! several alike:
//!
//! 1. [`files`]: each source's files, found under the data roots;
//! 2. `fit`: each part's modality fitted on the files of its sources (for several
//!    sources, put together in one mixture, with a part for captions if they need one);
//! 3. `read`: the data in those base ids, from the token cache or tokenized anew, and
//!    split;
//! 4. `learn`: each part's learned stages (`[tokenizer.codec]`, then
//!    `[tokenizer.bpe]`) fitted on that part's documents of the training split;
//! 5. `rebase`: the data in the ids of the whole tokenizer.
//!
//! [`prepare`] does all five for a new run; [`reload`] does 1, 3 and 5 with a saved
//! run's tokenizer. The token cache holds base ids, so runs that differ only in their
//! learned stages share it.

use crate::config::Config;
use crate::registry::{Mixed, SavedModality, SavedTokenizer, TokenizerConfig, captions_tokenizer};
use crate::sources::Inputs;
use anyhow::{Context, Result, anyhow, bail};
use autoreg_data::{
    Cut, Dataset, Progress, StoreBuilder, TokenStore, cache_dir, list_files, load_dataset, lock_folder, open_folder,
    resolve_data_path,
};
use autoreg_tokens::{Captioned, FrameLayout, Identity, Modality, Parts, Pipeline};
use rayon::prelude::*;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// A run's tokenizer and its data in the tokenizer's ids.
pub struct Prepared {
    /// The tokenizer, as `tokenizer.json` saves it.
    pub tokenizer: SavedTokenizer,
    /// The data, split.
    pub data: Dataset,
}

/// Prepares a new run of `config`, whose paths are found from `base` (the config's
/// folder): fits its tokenizer and learns its stages on the training split.
pub fn prepare(config: &Config, base: &Path, progress: &dyn Progress) -> Result<Prepared> {
    let (fitted, tokenizer, data) = learned(config, base, progress)?;
    let data = rebase(&config.inputs(), data, &fitted, &tokenizer, progress)?;
    Ok(Prepared { tokenizer, data })
}

/// The tokenizer that [`prepare`] learns, without the data in its ids.
pub fn learn_tokenizer(config: &Config, base: &Path, progress: &dyn Progress) -> Result<SavedTokenizer> {
    Ok(learned(config, base, progress)?.1)
}

/// Steps 1 to 4: the tokenizer before its learned stages, the whole tokenizer, and the
/// data in the ids of the first.
fn learned(config: &Config, base: &Path, progress: &dyn Progress) -> Result<(SavedTokenizer, SavedTokenizer, Dataset)> {
    let inputs = config.inputs();
    let files = files(&inputs, base)?;
    let fitted = fit(&inputs, &files)?;
    check_fim(config, &fitted)?;
    let data = read(config, &inputs, &files, &fitted, progress)?;
    let tokenizer = learn(&inputs, &fitted, &data, config.train.seed, progress)?.with_fim(config.data.fim_rate > 0.0);
    Ok((fitted, tokenizer, data))
}

/// Refuses `data.fim_rate` for a tokenizer that has no units to cut (before any data is
/// read): fill in the middle cuts a modality's own lines, bars, rows or frames.
fn check_fim(config: &Config, fitted: &SavedTokenizer) -> Result<()> {
    if config.data.fim_rate == 0.0 {
        return Ok(());
    }
    let kind = fitted.pipeline().kind();
    if config.tokenizer.as_ref().is_some_and(|t| t.codec.is_some()) {
        bail!("data.fim_rate: fill in the middle cuts a modality's own units, which a codec's codes do not keep");
    }
    if fitted.pipeline().span_unit().is_none() {
        bail!(
            "data.fim_rate: the {kind} tokenizer has no units to cut for fill in the middle (lines of text or code, \
             bars of REMI, rows of an image, frames of a clip)"
        );
    }
    Ok(())
}

/// The data of a saved run of `config` in the ids of its `tokenizer`; paths are found
/// from `base` (the run's folder).
pub fn reload(config: &Config, base: &Path, tokenizer: &SavedTokenizer, progress: &dyn Progress) -> Result<Dataset> {
    let inputs = config.inputs();
    let files = files(&inputs, base)?;
    let fitted = tokenizer.before_stages().map_err(|e| anyhow!("the run's tokenizer.json: {e}"))?;
    let data = read(config, &inputs, &files, &fitted, progress)?;
    rebase(&inputs, data, &fitted, tokenizer, progress)
}

/// Each source's files, found from `base` under the data roots, in the order of the
/// sources.
pub fn files(inputs: &Inputs, base: &Path) -> Result<Vec<Vec<PathBuf>>> {
    inputs
        .sources()
        .iter()
        .map(|s| {
            let found = resolve_data_path(&s.data, base).and_then(|p| list_files(&p, &s.tokenizer.extensions()));
            match inputs {
                Inputs::One(_) => Ok(found?),
                Inputs::Mixed(_) => found.with_context(|| format!("source {}", s.name)),
            }
        })
        .collect()
}

/// The tokenizer before its learned stages: the modality fitted on the files, or for
/// several sources the mixture of one part per kind, in the order the kinds first come,
/// each fitted on the files of all its sources. Captions are written in the captions'
/// part; when a source has captions and no source is of that kind, a part is added.
fn fit(inputs: &Inputs, files: &[Vec<PathBuf>]) -> Result<SavedTokenizer> {
    let sources = match inputs {
        Inputs::One(source) => return Ok(source.tokenizer.fit(&files[0])?),
        Inputs::Mixed(sources) => sources,
    };
    let mut kinds: Vec<(&TokenizerConfig, Vec<PathBuf>)> = Vec::new();
    for (source, files) in sources.iter().zip(files) {
        match kinds.iter_mut().find(|(t, _)| t.modality.kind() == source.tokenizer.modality.kind()) {
            Some((_, all)) => all.extend(files.iter().cloned()),
            None => kinds.push((&source.tokenizer, files.clone())),
        }
    }
    let captions_config = captions_tokenizer();
    let captions_kind = captions_config.modality.kind();
    let captioned = sources.iter().any(|s| s.caption.is_some());
    if captioned && !kinds.iter().any(|(t, _)| t.modality.kind() == captions_kind) {
        kinds.push((&captions_config, Vec::new()));
    }
    let mut parts = Vec::with_capacity(kinds.len());
    for (tokenizer, files) in &kinds {
        let part =
            tokenizer.fit(files).with_context(|| format!("the {} part of the mixture", tokenizer.modality.kind()))?;
        parts.push((part, tokenizer.extensions()));
    }
    let captions = kinds.iter().position(|(t, _)| t.modality.kind() == captions_kind).filter(|_| captioned);
    let mixed = Mixed::new(parts, captions).map_err(|e| anyhow!(e))?;
    SavedTokenizer::new(SavedModality::Mixed(mixed), None).map_err(|e| anyhow!(e))
}

/// The data in the ids of `fitted`: each source tokenized (or read from the cache),
/// split on its own, and for several sources put together with their weights, each
/// document after its caption.
fn read(
    config: &Config,
    inputs: &Inputs,
    files: &[Vec<PathBuf>],
    fitted: &SavedTokenizer,
    progress: &dyn Progress,
) -> Result<Dataset> {
    let json = fitted.base_json().context("cannot write the tokenizer as JSON")?;
    let seed = config.train.seed;
    let sources = match inputs {
        Inputs::One(source) => {
            return Ok(load_dataset(&source.data, &files[0], fitted.pipeline(), &json, seed, progress)?);
        }
        Inputs::Mixed(sources) => sources,
    };
    let parts = fitted.mixture().context("the run's tokenizer is not a mixture of its [[sources]]")?;
    let max_caption = Captioned::limit(usize::try_from(config.model.block_size).unwrap_or(0));
    let mut data = Vec::with_capacity(sources.len());
    for (source, files) in sources.iter().zip(files) {
        let kind = source.tokenizer.modality.kind();
        let part = parts.part_named(kind).with_context(|| format!("the run's mixture has no {kind} part"))?;
        let reader = Captioned::new(fitted.pipeline().base, part, source.caption.as_ref(), max_caption)
            .map_err(|e| anyhow!("source {}: {e}", source.name))?;
        let identity = Identity { vocab_size: reader.vocab_size() };
        let pipeline = Pipeline::new(&reader, &identity);
        // The cache is keyed by the whole mixture and the source's caption, and by the
        // longest caption taken, which the model's context sets.
        let key = format!("{json}\n{}\nmax_caption {max_caption}", serde_json::to_string(&source.caption)?);
        let loaded = load_dataset(&source.data, files, pipeline, &key, seed, progress)
            .with_context(|| format!("source {}", source.name))?;
        data.push((source.name.clone(), source.weight, loaded));
    }
    Ok(Dataset::mix(data)?)
}

/// The whole tokenizer: `fitted`, with each part's learned stages fitted on its
/// documents of the training split of `data` (in `fitted`'s ids), at most
/// `data.learn_tokens` of it drawn by `seed`. A codec keeps its training checkpoint in
/// the token cache's folder.
fn learn(
    inputs: &Inputs,
    fitted: &SavedTokenizer,
    data: &Dataset,
    seed: u64,
    progress: &dyn Progress,
) -> Result<SavedTokenizer> {
    let sample = |source: &crate::sources::Source| {
        let budget = usize::try_from(source.data.learn_tokens).unwrap_or(usize::MAX);
        let sample = data.train.sample(budget, seed);
        if sample.num_tokens() < data.train.num_tokens() {
            log::info!(
                "learning the {} stages on {} of the {} training tokens (data.learn_tokens)",
                source.tokenizer.modality.kind(),
                sample.num_tokens(),
                data.train.num_tokens()
            );
        }
        sample
    };
    let Some(mixture) = fitted.mixture() else {
        let source = &inputs.sources()[0];
        let sample = sample(source);
        let docs: Vec<Cow<[u32]>> = sample.docs().collect();
        let docs: Vec<&[u32]> = docs.iter().map(|d| &**d).collect();
        let cache = cache_dir(&source.data);
        return Ok(source.tokenizer.learn(fitted, &docs, progress, Some(&cache))?);
    };
    let mut learned = Vec::with_capacity(mixture.parts().len());
    for (i, part) in mixture.parts().iter().enumerate() {
        let kind = part.pipeline().kind();
        let part = match inputs.of_kind(kind).next().filter(|s| s.tokenizer.learns()) {
            Some(source) => {
                // The part's runs of ids in every training document, captions included.
                let docs: Vec<Vec<u32>> = sample(source).docs().flat_map(|doc| mixture.runs_of(i, &doc)).collect();
                let docs: Vec<&[u32]> = docs.iter().map(Vec::as_slice).collect();
                let cache = cache_dir(&source.data);
                source
                    .tokenizer
                    .learn(part, &docs, progress, Some(&cache))
                    .with_context(|| format!("the {kind} part of the mixture"))?
            }
            // A part without learned stages, such as the captions' part that the
            // mixture added.
            None => part.clone(),
        };
        learned.push((part, mixture.extensions()[i].clone()));
    }
    let mixed = Mixed::new(learned, mixture.captions()).map_err(|e| anyhow!(e))?;
    SavedTokenizer::new(SavedModality::Mixed(mixed), None).map_err(|e| anyhow!(e))
}

/// Documents rebased at once, in parallel, at most: what bounds the memory it takes.
const REBASE_TOKENS: usize = 16 << 20;

/// `data`, in the ids of `fitted`, in the ids of `tokenizer`: every document through
/// the learned stages, in parallel, into a store in the token cache (keyed by the
/// tokenizer and the documents), from which a later run reads them.
fn rebase(
    inputs: &Inputs,
    data: Dataset,
    fitted: &SavedTokenizer,
    tokenizer: &SavedTokenizer,
    progress: &dyn Progress,
) -> Result<Dataset> {
    if !tokenizer.has_stages() {
        return Ok(data);
    }
    let (n_train, n) = (data.train.num_docs(), data.train.num_docs() + data.val.num_docs());
    let mut key = blake3::Hasher::new();
    key.update(b"autoreg-staged-1\0");
    key.update(tokenizer.to_json().context("cannot write the tokenizer as JSON")?.as_bytes());
    key.update(data.train.fingerprint().as_bytes());
    key.update(data.val.fingerprint().as_bytes());
    let source = &inputs.sources()[0].data;
    let dir = cache_dir(source).join(format!("staged-{}", &key.finalize().to_hex()[..32]));
    let vocab = tokenizer.pipeline().vocab_size();
    let _held = lock_folder(&dir)?;
    let cached = match open_folder::<usize>(&dir, vocab) {
        Ok(found) => found.map(|(store, _)| store).filter(|s| s.num_docs() == n),
        Err(e) => {
            log::warn!("the cached tokens in {} cannot be used ({e}): encoding again", dir.display());
            None
        }
    };
    let store = match cached {
        Some(store) => store,
        None => {
            let (mut builder, records) = StoreBuilder::resume::<usize>(&dir, vocab)?;
            let mut next: usize = records.iter().sum::<usize>().min(n);
            // The training documents, then the validation ones.
            let all = TokenStore::concat([data.train.clone(), data.val.clone()]);
            progress.begin("encoding documents through the learned stages", n as u64);
            progress.advance(next as u64);
            let mut in_shard = 0;
            while next < n {
                let mut end = next;
                let mut tokens = 0;
                while end < n && (end == next || tokens < REBASE_TOKENS) {
                    tokens += all.doc_len(end);
                    end += 1;
                }
                let merged = (next..end)
                    .into_par_iter()
                    .map(|i| {
                        progress.advance(1);
                        tokenizer.rebase(fitted, &all.doc(i))
                    })
                    .collect::<Result<Vec<Vec<u32>>, _>>()?;
                // The ids read so far leave the process's resident memory.
                all.release_pages();
                for doc in &merged {
                    builder.push(doc)?;
                    in_shard += 1;
                    if builder.shard_tokens() >= source.shard_tokens {
                        builder.end_shard(&in_shard)?;
                        in_shard = 0;
                    }
                }
                next = end;
            }
            progress.end();
            builder.finish(Some(&in_shard))?.0
        }
    };
    let (train, val) = (store.slice(0..n_train), store.slice(n_train..n));
    // A codec makes frames shorter: windows of frames are cut by the stages' frames.
    let pipeline = tokenizer.pipeline();
    let windows = restaged(data.windows, pipeline.frames());
    let mut sources = data.sources;
    if let (Some(mixture), Some(parts)) = (tokenizer.mixture(), pipeline.parts()) {
        for (span, source) in sources.iter_mut().zip(inputs.sources()) {
            let part = mixture.part_named(source.tokenizer.modality.kind());
            span.windows = restaged(span.windows, part.and_then(|p| parts.frames(p)));
        }
    }
    Ok(Dataset { train, val, windows, sources, ..data })
}

/// `windows` cut by frames, moved to the frame token and length of `frames`, the frames
/// of the ids after the learned stages; other windows as they are.
fn restaged(windows: Cut, frames: Option<(u32, usize)>) -> Cut {
    match (windows, frames) {
        (Cut::Frames(layout), Some((token, len))) => Cut::Frames(FrameLayout { token, len, ..layout }),
        (windows, _) => windows,
    }
}

/// How windows of a sample are cut, when a run's documents (or, with `target`, the
/// documents of that part of its mixture) are frames: the frames of its tokenizer and
/// the context its training windows kept.
pub fn sample_frames(
    config: &Config,
    tokenizer: &SavedTokenizer,
    target: Option<usize>,
) -> Result<Option<FrameLayout>> {
    let inputs = config.inputs();
    let tok = tokenizer.pipeline();
    match (&inputs, tok.parts(), target) {
        (Inputs::One(source), ..) => Ok(Cut::resolve(&source.data, tok).map_err(|e| anyhow!(e))?.frames()),
        (Inputs::Mixed(_), Some(parts), Some(t)) => {
            let (Some((token, len)), Some(source)) = (parts.frames(t), inputs.of_kind(parts.part(t).kind()).next())
            else {
                return Ok(None);
            };
            Ok(source.data.context_frames.map(|context| FrameLayout { token, len, context }))
        }
        _ => Ok(None),
    }
}
