//! Data sets: files tokenized once in parallel into a cache keyed by the cache version,
//! the tokenizer and the contents of the files and their companion inputs, then split
//! for validation. Cached tokens are used only when they match their recorded checksum
//! and the vocabulary.

use crate::config::{DataConfig, SplitMode};
use crate::error::DataError;
use crate::progress::Progress;
use crate::windows::Cut;
use autoreg_tokens::{Pipeline, TokenStore, write_atomic};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A tokenized data set, split into training and validation documents.
#[derive(Debug)]
pub struct Dataset {
    /// Training documents.
    pub train: TokenStore,
    /// Validation documents.
    pub val: TokenStore,
    /// Files used: those that gave documents, and those read with them (a clip's later
    /// frames).
    pub files_used: usize,
    /// Files that were skipped, with the reason; a file read with a skipped one (a later
    /// frame of a clip that was skipped) is skipped with it.
    pub skipped: Vec<String>,
    /// Whether the tokens came from the cache.
    pub from_cache: bool,
    /// How training windows are cut; with several sources, each span says its own.
    pub windows: Cut,
    /// With several sources, each one's documents in `train` and `val`; empty for one.
    pub sources: Vec<SourceSpan>,
}

/// One source of a data set of several: its documents in each split, and its weight.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceSpan {
    /// The source's name.
    pub name: String,
    /// Its share of training windows, relative to the other sources' weights.
    pub weight: f64,
    /// Its documents in the training split.
    pub train: Range<usize>,
    /// Its documents in the validation split.
    pub val: Range<usize>,
    /// How its training windows are cut.
    pub windows: Cut,
}

impl Dataset {
    /// The data sets of several sources as one, each source's documents after the
    /// previous one's, with the weights given, each source keeping its own windows;
    /// `windows` are the first source's.
    /// Skipped files are named with their source.
    pub fn mix(sources: Vec<(String, f64, Dataset)>) -> Result<Self, DataError> {
        let windows = sources
            .first()
            .map(|(_, _, d)| d.windows)
            .ok_or_else(|| DataError::Unusable("a data set of several sources needs at least one".into()))?;
        let (mut train, mut val) = (TokenStore::new(), TokenStore::new());
        let (mut files_used, mut skipped, mut from_cache, mut spans) = (0, Vec::new(), true, Vec::new());
        for (name, weight, data) in sources {
            let (t0, v0) = (train.num_docs(), val.num_docs());
            data.train.docs().for_each(|d| train.push(d));
            data.val.docs().for_each(|d| val.push(d));
            files_used += data.files_used;
            skipped.extend(data.skipped.iter().map(|s| format!("source {name}: {s}")));
            from_cache &= data.from_cache;
            spans.push(SourceSpan {
                name,
                weight,
                train: t0..train.num_docs(),
                val: v0..val.num_docs(),
                windows: data.windows,
            });
        }
        Ok(Self { train, val, files_used, skipped, from_cache, windows, sources: spans })
    }
}

/// Version of the cache's format and of the code that fills it; part of the cache key,
/// so that a change of either misses old entries.
const CACHE_VERSION: &str = "autoreg-token-cache-3";

/// What the cache records about the tokens and each file.
#[derive(Serialize, Deserialize)]
struct Manifest {
    /// Per file: its path and how many documents it gave, or why it was skipped.
    files: Vec<FileEntry>,
    /// [`store_checksum`] of the cached tokens.
    checksum: String,
}

#[derive(Serialize, Deserialize)]
struct FileEntry {
    path: PathBuf,
    docs: usize,
    error: Option<String>,
    /// What encoding the file warned about (a damaged file recovered, a stereo
    /// recording mixed down): said again when the cache is read instead of the file.
    warnings: Vec<String>,
    /// The skipped file this one is read with (as a later frame of a clip is), when it
    /// is skipped with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skipped_with: Option<PathBuf>,
}

/// Marks the files that are read with a skipped file (its companion inputs, such as the
/// later frames of a clip) and that gave nothing of their own as skipped with it, so
/// that the files counted as used gave data.
fn skip_companions(files: &[PathBuf], tokenizer: Pipeline<'_>, entries: &mut [FileEntry]) {
    let index: std::collections::HashMap<&Path, usize> =
        files.iter().enumerate().map(|(i, f)| (f.as_path(), i)).collect();
    for i in 0..entries.len() {
        if entries[i].error.is_none() || entries[i].skipped_with.is_some() {
            continue;
        }
        for companion in tokenizer.companion_inputs(&files[i]) {
            let Some(&j) = index.get(companion.as_path()) else { continue };
            let entry = &mut entries[j];
            if j != i && entry.error.is_none() && entry.docs == 0 {
                entry.error =
                    Some(format!("{}: read with {}, which was skipped", companion.display(), files[i].display()));
                entry.skipped_with = Some(files[i].clone());
            }
        }
    }
}

/// Says, once per skipped file, how many files were skipped with it.
fn say_skipped_with(entries: &[FileEntry]) {
    let mut with: Vec<(&Path, usize)> = Vec::new();
    for path in entries.iter().filter_map(|e| e.skipped_with.as_deref()) {
        match with.iter_mut().find(|(p, _)| *p == path) {
            Some((_, n)) => *n += 1,
            None => with.push((path, 1)),
        }
    }
    for (path, n) in with {
        log::warn!("skipped {n} more file(s) read with {}, which was skipped", path.display());
    }
}

/// blake3 (hex) of a store's document lengths and tokens.
fn store_checksum(store: &TokenStore) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(store.num_docs() as u64).to_le_bytes());
    for doc in store.docs() {
        hasher.update(&(doc.len() as u64).to_le_bytes());
    }
    let mut buf = Vec::with_capacity(1 << 16);
    for chunk in store.tokens().chunks(1 << 14) {
        buf.clear();
        chunk.iter().for_each(|t| buf.extend_from_slice(&t.to_le_bytes()));
        hasher.update(&buf);
    }
    hasher.finalize().to_hex().to_string()
}

/// A digest of a file's path, length and contents; a file that cannot be read (reported
/// when it is encoded) or that is not a regular file (never read: a FIFO would block) is
/// digested by what is wrong with it.
fn file_digest(path: &Path) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(path.to_string_lossy().as_bytes());
    hasher.update(&[0]);
    let read = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err("not a regular file".to_owned()),
        Ok(_) => std::fs::read(path).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match read {
        Ok(bytes) => {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(blake3::hash(&bytes).as_bytes());
        }
        Err(why) => {
            hasher.update(b"unusable: ");
            hasher.update(why.as_bytes());
        }
    }
    hasher.finalize()
}

/// Tokenizes `files` (or loads them from the cache) and splits the documents.
/// `tokenizer_json` is the saved tokenizer: with the files' contents it keys the cache.
/// `progress` is told of the files as they are tokenized.
pub fn load_dataset(
    config: &DataConfig,
    files: &[PathBuf],
    tokenizer: Pipeline<'_>,
    tokenizer_json: &str,
    seed: u64,
    progress: &dyn Progress,
) -> Result<Dataset, DataError> {
    config.validate().map_err(DataError::Config)?;
    let windows = Cut::resolve(config, tokenizer).map_err(DataError::Config)?;
    let (store, manifest, from_cache) = tokenize_cached(config, files, tokenizer, tokenizer_json, progress)?;
    let skipped: Vec<String> = manifest.files.iter().filter_map(|f| f.error.clone()).collect();
    let files_used = manifest.files.len() - skipped.len();
    if store.num_docs() == 0 {
        return Err(DataError::Unusable(format!(
            "no usable data: all {} file(s) were skipped{}",
            files.len(),
            skipped.first().map(|s| format!(" (first: {s})")).unwrap_or_default()
        )));
    }
    let (train, val) = split(config, &store, &manifest, seed)?;
    Ok(Dataset { train, val, files_used, skipped, from_cache, windows, sources: Vec::new() })
}

/// The key of the cache entry for `files` under the tokenizer: the cache version, the
/// tokenizer, and the path and contents of every file and of its companion inputs.
fn cache_key(files: &[PathBuf], tokenizer: Pipeline<'_>, tokenizer_json: &str) -> String {
    // Each file's digests in parallel, then combined in file order.
    let digests: Vec<Vec<blake3::Hash>> = files
        .par_iter()
        .map(|f| {
            let companions = tokenizer.companion_inputs(f);
            std::iter::once(f).chain(&companions).map(|p| file_digest(p)).collect()
        })
        .collect();
    let mut hasher = blake3::Hasher::new();
    hasher.update(CACHE_VERSION.as_bytes());
    hasher.update(&[0]);
    hasher.update(tokenizer_json.as_bytes());
    for file in &digests {
        hasher.update(&(file.len() as u64).to_le_bytes());
        for digest in file {
            hasher.update(digest.as_bytes());
        }
    }
    hasher.finalize().to_hex().to_string()
}

/// The cached tokens of `files`, if the manifest at `manifest_path` and the store at
/// `tokens_path` are there, agree with each other and with `files`, match the recorded
/// checksum and hold only ids of the vocabulary. `Err` says why a cache entry that is
/// there cannot be used.
fn read_cache(
    files: &[PathBuf],
    tokenizer: Pipeline<'_>,
    manifest_path: &Path,
    tokens_path: &Path,
) -> Result<Option<(TokenStore, Manifest)>, String> {
    let bytes = match std::fs::read(manifest_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let store = TokenStore::load(tokens_path).map_err(|e| e.to_string())?;
    let same_files = manifest.files.len() == files.len() && manifest.files.iter().zip(files).all(|(m, f)| m.path == *f);
    let docs: usize = manifest.files.iter().map(|f| f.docs).sum();
    if !same_files || docs != store.num_docs() {
        return Err("its manifest does not describe these files".into());
    }
    if store_checksum(&store) != manifest.checksum {
        return Err(format!("{} does not match its checksum", tokens_path.display()));
    }
    tokenizer.check_range(store.tokens()).map_err(|e| e.to_string())?;
    Ok(Some((store, manifest)))
}

/// The folder of the token cache: `[data] cache_dir`, else the user's cache folder's
/// `autoreg/`, else `.autoreg-cache` in the working directory.
pub fn cache_dir(config: &DataConfig) -> PathBuf {
    config
        .cache_dir
        .clone()
        .or_else(|| dirs::cache_dir().map(|d| d.join("autoreg")))
        .unwrap_or_else(|| PathBuf::from(".autoreg-cache"))
}

fn tokenize_cached(
    config: &DataConfig,
    files: &[PathBuf],
    tokenizer: Pipeline<'_>,
    tokenizer_json: &str,
    progress: &dyn Progress,
) -> Result<(TokenStore, Manifest, bool), DataError> {
    let key = cache_key(files, tokenizer, tokenizer_json);
    let cache_dir = cache_dir(config);
    let tokens_path = cache_dir.join(format!("{}.tokens", &key[..32]));
    let manifest_path = cache_dir.join(format!("{}.json", &key[..32]));

    match read_cache(files, tokenizer, &manifest_path, &tokens_path) {
        Ok(Some((store, manifest))) => {
            for file in &manifest.files {
                file.warnings.iter().for_each(|w| log::warn!("{w}"));
                if let Some(reason) = file.error.as_ref().filter(|_| file.skipped_with.is_none()) {
                    log::warn!("skipped {reason}");
                }
            }
            say_skipped_with(&manifest.files);
            return Ok((store, manifest, true));
        }
        Ok(None) => {}
        Err(why) => {
            log::warn!("the cached tokens {} cannot be used ({why}): tokenizing again", manifest_path.display())
        }
    }

    progress.begin("tokenizing files", files.len() as u64);
    let results: Vec<_> = files
        .par_iter()
        .map(|f| {
            let done = autoreg_tokens::capture(|| tokenizer.encode_file(f));
            progress.advance(1);
            done
        })
        .collect();
    progress.end();
    // Said once the files are read, in their order, so as not to break into a progress bar.
    results.iter().filter_map(|(r, _)| r.as_ref().err()).for_each(|e| log::warn!("skipped {e}"));

    let mut store = TokenStore::new();
    let mut entries = Vec::with_capacity(files.len());
    for (path, (result, warnings)) in files.iter().zip(results) {
        let path = path.clone();
        match result {
            Ok(docs) => {
                docs.iter().for_each(|d| store.push(d));
                entries.push(FileEntry { path, docs: docs.len(), error: None, warnings, skipped_with: None });
            }
            Err(e) => {
                entries.push(FileEntry { path, docs: 0, error: Some(e.to_string()), warnings, skipped_with: None })
            }
        }
    }
    skip_companions(files, tokenizer, &mut entries);
    say_skipped_with(&entries);
    let manifest = Manifest { files: entries, checksum: store_checksum(&store) };
    // The cache is an optimisation: failing to write it is worth a warning, no more.
    let saved = std::fs::create_dir_all(&cache_dir)
        .map_err(|e| DataError::io(&cache_dir, e))
        .and_then(|()| store.save(&tokens_path).map_err(DataError::from))
        .and_then(|()| {
            serde_json::to_vec(&manifest).map_err(|source| DataError::Manifest { path: manifest_path.clone(), source })
        })
        .and_then(|json| write_atomic(&manifest_path, &json).map_err(DataError::from));
    if let Err(e) = saved {
        log::warn!("cannot cache tokenized data: {e}");
    }
    Ok((store, manifest, false))
}

fn split(
    config: &DataConfig,
    store: &TokenStore,
    manifest: &Manifest,
    seed: u64,
) -> Result<(TokenStore, TokenStore), DataError> {
    let n = store.num_docs();
    let frac = config.val_fraction;
    let mut train = TokenStore::new();
    let mut val = TokenStore::new();
    match config.split {
        SplitMode::Documents => {
            if n < 2 {
                return Err(DataError::Unusable(format!(
                    "data.split = \"documents\" needs at least 2 documents, found {n}; \
                     split = \"tail\" validates on the end of each document instead"
                )));
            }
            let n_val = ((n as f64 * frac).round() as usize).clamp(1, n - 1);
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut StdRng::seed_from_u64(seed));
            let mut is_val = vec![false; n];
            order[..n_val].iter().for_each(|&i| is_val[i] = true);
            for (i, doc) in store.docs().enumerate() {
                if is_val[i] { val.push(doc) } else { train.push(doc) }
            }
        }
        SplitMode::Tail => {
            for doc in store.docs() {
                let cut = doc.len() - (doc.len() as f64 * frac).ceil() as usize;
                train.push(&doc[..cut]);
                val.push(&doc[cut..]);
            }
        }
        SplitMode::Files => {
            let names: Vec<String> = manifest
                .files
                .iter()
                .map(|f| f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
                .collect();
            let is_val: Vec<bool> = match config.val_files.as_deref() {
                Some(pattern) => {
                    let glob = glob::Pattern::new(pattern).map_err(|e| {
                        DataError::Config(format!("data.val_files {pattern:?} is not a valid glob: {e}"))
                    })?;
                    names.iter().map(|n| glob.matches(n)).collect()
                }
                None => {
                    let used: Vec<usize> = (0..names.len()).filter(|&i| manifest.files[i].docs > 0).collect();
                    if used.len() < 2 {
                        return Err(DataError::Unusable(format!(
                            "data.split = \"files\" needs at least 2 files with data, found {}",
                            used.len()
                        )));
                    }
                    let n_val = ((used.len() as f64 * frac).round() as usize).clamp(1, used.len() - 1);
                    let mut order = used;
                    order.shuffle(&mut StdRng::seed_from_u64(seed));
                    let mut is_val = vec![false; names.len()];
                    order[..n_val].iter().for_each(|&i| is_val[i] = true);
                    is_val
                }
            };
            let mut docs = store.docs();
            for (file, val_file) in manifest.files.iter().zip(is_val) {
                let target = if val_file { &mut val } else { &mut train };
                for doc in docs.by_ref().take(file.docs) {
                    target.push(doc);
                }
            }
        }
    }
    for (name, s) in [("training", &train), ("validation", &val)] {
        if s.num_tokens() == 0 {
            return Err(DataError::Unusable(format!(
                "the {name} split is empty: check data.split and data.val_fraction"
            )));
        }
    }
    Ok((train, val))
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoreg_text::{Level, TextConfig};
    use autoreg_tokens::{Extras, Identity, Inputs, Modality, ModalityBuilder};

    /// `load_dataset` of `tok`'s base ids, with seed 1.
    fn load(cfg: &DataConfig, files: &[PathBuf], tok: &dyn Modality, json: &str) -> Result<Dataset, DataError> {
        let pipeline = Pipeline { base: tok, ids: &Identity { vocab_size: tok.vocab_size() } };
        load_dataset(cfg, files, pipeline, json, 1, &crate::Silent)
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn config(dir: &Path) -> DataConfig {
        DataConfig { path: "x".into(), cache_dir: Some(dir.join("cache")), ..Default::default() }
    }

    #[test]
    fn skips_bad_files_uses_the_cache_and_splits_by_document() {
        let dir = tempfile::tempdir().unwrap();
        let mut files: Vec<PathBuf> = (0..10).map(|i| write(dir.path(), &format!("{i}.txt"), b"hello")).collect();
        files.push(write(dir.path(), "bad.txt", b"\xff\xfe"));
        let tok = TextConfig { level: Level::Char }.build(&files).unwrap();
        let cfg = config(dir.path());
        let a = load(&cfg, &files, &tok, "tok").unwrap();
        assert_eq!((a.files_used, a.skipped.len(), a.from_cache), (10, 1, false));
        assert!(a.skipped[0].contains("bad.txt: not UTF-8"), "{:?}", a.skipped);
        assert_eq!((a.train.num_docs(), a.val.num_docs()), (9, 1));
        let b = load(&cfg, &files, &tok, "tok").unwrap();
        assert!(b.from_cache);
        assert_eq!((b.train, b.val, b.skipped), (a.train, a.val, a.skipped));
        // Another tokenizer, or changed contents, miss the cache.
        assert!(!load(&cfg, &files, &tok, "other").unwrap().from_cache);
        std::fs::write(&files[0], b"hell").unwrap();
        assert!(!load(&cfg, &files, &tok, "tok").unwrap().from_cache);
    }

    /// The one cache entry under `cfg`: its tokens and manifest files.
    fn cache_entry(cfg: &DataConfig) -> (PathBuf, PathBuf) {
        let dir = cfg.cache_dir.as_ref().unwrap();
        let find = |ext: &str| {
            let mut found = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path());
            found.find(|p| p.extension().is_some_and(|e| e == ext)).unwrap()
        };
        (find("tokens"), find("json"))
    }

    #[test]
    fn a_cache_overwritten_with_other_ids_or_ids_outside_the_vocabulary_misses() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..4).map(|i| write(dir.path(), &format!("{i}.txt"), b"abcabc")).collect();
        let tok = TextConfig { level: Level::Char }.build(&files).unwrap();
        let cfg = config(dir.path());
        let fresh = load(&cfg, &files, &tok, "tok").unwrap();
        let (tokens, manifest) = cache_entry(&cfg);
        let size = std::fs::metadata(&tokens).unwrap().len();
        // Valid ids, the same shape and size: the checksum tells.
        let mut other = TokenStore::new();
        (0..4).for_each(|_| other.push(&[1; 8]));
        other.save(&tokens).unwrap();
        assert_eq!(std::fs::metadata(&tokens).unwrap().len(), size);
        let again = load(&cfg, &files, &tok, "tok").unwrap();
        assert!(!again.from_cache);
        assert_eq!((again.train, again.val), (fresh.train, fresh.val));
        // Ids outside the vocabulary, with a checksum that matches them.
        let mut bad = TokenStore::new();
        (0..4).for_each(|_| bad.push(&[1, 2, 9999, 3]));
        bad.save(&tokens).unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
        json["checksum"] = store_checksum(&bad).into();
        std::fs::write(&manifest, json.to_string()).unwrap();
        let again = load(&cfg, &files, &tok, "tok").unwrap();
        assert!(!again.from_cache);
        assert!(again.train.tokens().iter().all(|&t| (t as usize) < tok.vocab_size()));
        assert!(load(&cfg, &files, &tok, "tok").unwrap().from_cache, "the cache is written again");
    }

    /// A text tokenizer whose files come with companions. `Labels`: each file has a
    /// `.labels` companion. `Folders`: each folder is one document, read from its
    /// `0.txt` with `1.txt` and `2.txt` as companions (which give nothing of their own);
    /// a folder with a file that says "bad" is refused.
    enum Companions {
        Labels(autoreg_text::TextTokenizer),
        Folders(autoreg_text::TextTokenizer),
    }

    impl Companions {
        fn text(&self) -> &autoreg_text::TextTokenizer {
            match self {
                Self::Labels(t) | Self::Folders(t) => t,
            }
        }

        /// Whether `path` is a later file of its folder (`Folders` only).
        fn later(&self, path: &Path) -> bool {
            matches!(self, Self::Folders(_)) && path.file_name().is_some_and(|n| n != "0.txt")
        }
    }

    impl Modality for Companions {
        fn kind(&self) -> &'static str {
            self.text().kind()
        }
        fn vocab_size(&self) -> usize {
            self.text().vocab_size()
        }
        fn specials(&self) -> autoreg_tokens::Specials {
            self.text().specials()
        }
        fn token_name(&self, token: u32) -> Option<String> {
            self.text().token_name(token)
        }
        fn merge_rule(&self) -> autoreg_tokens::MergeRule {
            self.text().merge_rule()
        }
        fn encode(&self, source: &autoreg_tokens::Source) -> Result<Vec<Vec<u32>>, autoreg_tokens::TokenError> {
            if matches!(self, Self::Labels(_)) {
                return self.text().encode(source);
            }
            if self.later(source.path) {
                return Ok(Vec::new());
            }
            let mut all = source.bytes.to_vec();
            for file in self.companion_inputs(source.path) {
                let bytes = std::fs::read(&file).map_err(|e| autoreg_tokens::TokenError::io(&file, e))?;
                if bytes == b"bad" {
                    return Err(autoreg_tokens::TokenError::format(source.name(), "a bad frame"));
                }
                all.extend(bytes);
            }
            self.text().encode(&autoreg_tokens::Source::new(source.path, &all))
        }
        fn decode(&self, ids: &[u32]) -> Result<autoreg_tokens::Decoded, autoreg_tokens::TokenError> {
            self.text().decode(ids)
        }
        fn extras(&self) -> Extras<'_> {
            Extras { inputs: Some(self), ..Extras::default() }
        }
    }

    impl Inputs for Companions {
        fn companion_inputs(&self, path: &Path) -> Vec<PathBuf> {
            match self {
                Self::Labels(_) => vec![path.with_extension("labels")],
                Self::Folders(_) if self.later(path) => Vec::new(),
                Self::Folders(_) => (1..3).map(|i| path.with_file_name(format!("{i}.txt"))).collect(),
            }
        }
    }

    #[test]
    fn files_read_with_a_skipped_file_are_counted_as_skipped_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (folder, middle) in [("a", "abc"), ("b", "bad"), ("c", "cab")] {
            for (i, text) in ["abc", middle, "abc"].iter().enumerate() {
                files.push(write(dir.path(), &format!("{folder}/{i}.txt"), text.as_bytes()));
            }
        }
        let tok = Companions::Folders(autoreg_text::TextTokenizer::byte());
        let cfg = config(dir.path());
        for from_cache in [false, true] {
            let data = load(&cfg, &files, &tok, "tok").unwrap();
            assert_eq!(data.from_cache, from_cache);
            assert_eq!((data.files_used, data.skipped.len()), (6, 3), "{:?}", data.skipped);
            let (first, b) = (dir.path().join("b/0.txt"), dir.path().join("b"));
            assert_eq!(data.skipped[0], format!("{}: a bad frame", first.display()));
            for (i, skipped) in data.skipped[1..].iter().enumerate() {
                let want = format!(
                    "{}: read with {}, which was skipped",
                    b.join(format!("{}.txt", i + 1)).display(),
                    first.display()
                );
                assert_eq!(*skipped, want);
            }
            assert_eq!(data.train.num_docs() + data.val.num_docs(), 2);
        }
    }

    #[test]
    fn companion_inputs_key_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..2).map(|i| write(dir.path(), &format!("{i}.txt"), b"abc")).collect();
        let tok = Companions::Labels(autoreg_text::TextTokenizer::byte());
        let cfg = config(dir.path());
        assert!(!load(&cfg, &files, &tok, "tok").unwrap().from_cache);
        assert!(load(&cfg, &files, &tok, "tok").unwrap().from_cache);
        write(dir.path(), "0.labels", b"1");
        assert!(!load(&cfg, &files, &tok, "tok").unwrap().from_cache, "a new companion");
        assert!(load(&cfg, &files, &tok, "tok").unwrap().from_cache);
        write(dir.path(), "0.labels", b"2");
        assert!(!load(&cfg, &files, &tok, "tok").unwrap().from_cache, "a changed companion");
    }

    #[test]
    fn val_fraction_is_checked_before_tokenizing() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![write(dir.path(), "a.txt", b"abc"), write(dir.path(), "b.txt", b"abc")];
        let tok = autoreg_text::TextTokenizer::byte();
        for bad in [f64::NAN, 0.0, 1.0, -0.5, f64::INFINITY] {
            let cfg = DataConfig { val_fraction: bad, ..config(dir.path()) };
            let err = load(&cfg, &files, &tok, "t").unwrap_err().to_string();
            assert!(err.contains("data.val_fraction must be in (0, 1)"), "{err}");
        }
        assert!(!dir.path().join("cache").exists());
    }

    #[test]
    fn tail_split_cuts_every_document_and_files_split_follows_the_glob() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![write(dir.path(), "3_a_0.txt", b"abcdefgh"), write(dir.path(), "3_a_7.txt", b"abcdefgh")];
        let tok = TextConfig { level: Level::Byte }.build(&files).unwrap();
        let tail = DataConfig { split: SplitMode::Tail, val_fraction: 0.2, ..config(dir.path()) };
        let d = load(&tail, &files, &tok, "t").unwrap();
        assert_eq!((d.train.num_tokens(), d.val.num_tokens()), (16, 4)); // 10 tokens each, 2 validate
        let by_file =
            DataConfig { split: SplitMode::Files, val_files: Some("*_[0-4].txt".into()), ..config(dir.path()) };
        let d = load(&by_file, &files, &tok, "t").unwrap();
        assert_eq!((d.train.num_docs(), d.val.num_docs()), (1, 1));
        let random_files = DataConfig { split: SplitMode::Files, val_fraction: 0.5, ..config(dir.path()) };
        let d = load(&random_files, &files, &tok, "t").unwrap();
        assert_eq!((d.train.num_docs(), d.val.num_docs()), (1, 1));
        let one_doc = load(&config(dir.path()), &files[..1], &tok, "t").unwrap_err().to_string();
        assert!(one_doc.contains("at least 2 documents"), "{one_doc}");
    }

    #[test]
    fn no_usable_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![write(dir.path(), "bad.txt", b"\xff")];
        let tok = autoreg_text::TextTokenizer::char(vec!['a']).unwrap();
        let err = load(&config(dir.path()), &files, &tok, "t").unwrap_err().to_string();
        assert!(err.contains("no usable data: all 1 file(s) were skipped (first: "), "{err}");
    }
}
