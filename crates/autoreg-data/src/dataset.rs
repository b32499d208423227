//! Data sets: files tokenized once in parallel into a cache keyed by the cache version,
//! the tokenizer and the contents of the files and their companion inputs, then split
//! for validation. Cached tokens are used only when they match their recorded checksum
//! and the vocabulary.

use crate::config::{DataConfig, SplitMode};
use crate::error::DataError;
use crate::progress::Progress;
use crate::store::{StoreBuilder, TokenStore, lock_folder, open_folder};
use crate::windows::Cut;
use autoreg_tokens::{FimRates, Pieces, Pipeline, Source, TokenError};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::Read;
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
    /// How often training windows are rearranged for fill in the middle, when they are.
    pub fim: Option<FimRates>,
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
    /// previous one's (sharing their ids), with the weights given, each source keeping its own windows;
    /// `windows` and `fim` are the first source's.
    /// Skipped files are named with their source.
    pub fn mix(sources: Vec<(String, f64, Dataset)>) -> Result<Self, DataError> {
        let (windows, fim) = sources
            .first()
            .map(|(_, _, d)| (d.windows, d.fim))
            .ok_or_else(|| DataError::Unusable("a data set of several sources needs at least one".into()))?;
        let (mut train, mut val) = (Vec::new(), Vec::new());
        let (mut t0, mut v0) = (0, 0);
        let (mut files_used, mut skipped, mut from_cache, mut spans) = (0, Vec::new(), true, Vec::new());
        for (name, weight, data) in sources {
            let (t1, v1) = (t0 + data.train.num_docs(), v0 + data.val.num_docs());
            files_used += data.files_used;
            skipped.extend(data.skipped.iter().map(|s| format!("source {name}: {s}")));
            from_cache &= data.from_cache;
            spans.push(SourceSpan { name, weight, train: t0..t1, val: v0..v1, windows: data.windows });
            train.push(data.train);
            val.push(data.val);
            (t0, v0) = (t1, v1);
        }
        let (train, val) = (TokenStore::concat(train), TokenStore::concat(val));
        Ok(Self { train, val, files_used, skipped, from_cache, windows, fim, sources: spans })
    }
}

/// Version of the cache's format and of the code that fills it; part of the cache key,
/// so that a change of either misses old entries.
const CACHE_VERSION: &str = "autoreg-token-cache-4";

/// Bytes of input tokenized at once (at most; no more than `data.shard_tokens` either),
/// the files in parallel: what bounds the memory that tokenizing takes, with
/// [`PIECE_BYTES`].
const BATCH_BYTES: u64 = 64 << 20;

/// A file larger than this, of a modality that encodes in pieces, is read and encoded
/// in pieces of about this size, in parallel.
const PIECE_BYTES: usize = 16 << 20;

/// What the cache records about each file, shard by shard: its path and how many
/// documents it gave, or why it was skipped.
#[derive(Clone, Serialize, Deserialize)]
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

/// A digest of a file's path, size and modification time (as make and cargo tell a
/// changed file: reading every file of a large corpus at each start would cost more
/// than training from it); a file that is missing or not a regular file (never read: a
/// FIFO would block) is digested by what is wrong with it.
fn file_digest(path: &Path) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(path.to_string_lossy().as_bytes());
    hasher.update(&[0]);
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            hasher.update(&meta.len().to_le_bytes());
            let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            hasher.update(&modified.map_or(0, |d| d.as_nanos()).to_le_bytes());
        }
        Ok(_) => {
            hasher.update(b"unusable: not a regular file");
        }
        Err(e) => {
            hasher.update(b"unusable: ");
            hasher.update(e.to_string().as_bytes());
        }
    }
    hasher.finalize()
}

/// Tokenizes `files` (or loads them from the cache) and splits the documents.
/// `tokenizer_json` is the saved tokenizer: with the files it keys the cache.
/// `progress` is told of the bytes as they are tokenized.
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
    let (store, entries, from_cache) = tokenize_cached(config, files, tokenizer, tokenizer_json, progress)?;
    let skipped: Vec<String> = entries.iter().filter_map(|f| f.error.clone()).collect();
    let files_used = entries.len() - skipped.len();
    if store.num_docs() == 0 {
        return Err(DataError::Unusable(format!(
            "no usable data: all {} file(s) were skipped{}",
            files.len(),
            skipped.first().map(|s| format!(" (first: {s})")).unwrap_or_default()
        )));
    }
    let (train, val) = split(config, &store, &entries, seed)?;
    Ok(Dataset { train, val, files_used, skipped, from_cache, windows, fim: config.fim(), sources: Vec::new() })
}

/// The key of the cache entry for `files` under the tokenizer: the cache version, the
/// tokenizer, the shard size, and the path, size and time of every file and of its
/// companion inputs.
fn cache_key(files: &[PathBuf], tokenizer: Pipeline<'_>, tokenizer_json: &str, shard_tokens: u64) -> String {
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
    hasher.update(&shard_tokens.to_le_bytes());
    for file in &digests {
        hasher.update(&(file.len() as u64).to_le_bytes());
        for digest in file {
            hasher.update(digest.as_bytes());
        }
    }
    hasher.finalize().to_hex().to_string()
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

/// The cached tokens of `files` in `dir`, if a complete store is there and its records
/// describe `files`. `Err` says why a store that is there cannot be used.
fn read_cache(
    files: &[PathBuf],
    dir: &Path,
    vocab_size: usize,
) -> Result<Option<(TokenStore, Vec<FileEntry>)>, String> {
    let Some((store, records)) = open_folder::<Vec<FileEntry>>(dir, vocab_size).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let entries: Vec<FileEntry> = records.into_iter().flatten().collect();
    let same_files = entries.len() == files.len() && entries.iter().zip(files).all(|(m, f)| m.path == *f);
    let docs: usize = entries.iter().map(|f| f.docs).sum();
    if !same_files || docs != store.num_docs() {
        return Err("its records do not describe these files".into());
    }
    Ok(Some((store, entries)))
}

fn tokenize_cached(
    config: &DataConfig,
    files: &[PathBuf],
    tokenizer: Pipeline<'_>,
    tokenizer_json: &str,
    progress: &dyn Progress,
) -> Result<(TokenStore, Vec<FileEntry>, bool), DataError> {
    let key = cache_key(files, tokenizer, tokenizer_json, config.shard_tokens);
    let dir = cache_dir(config).join(&key[..32]);
    // Held while the store is read or built: another process building it is waited for.
    let _held = lock_folder(&dir)?;
    match read_cache(files, &dir, tokenizer.vocab_size()) {
        Ok(Some((store, mut entries))) => {
            skip_companions(files, tokenizer, &mut entries);
            for file in &entries {
                file.warnings.iter().for_each(|w| log::warn!("{w}"));
                if let Some(reason) = file.error.as_ref().filter(|_| file.skipped_with.is_none()) {
                    log::warn!("skipped {reason}");
                }
            }
            say_skipped_with(&entries);
            return Ok((store, entries, true));
        }
        Ok(None) => {}
        Err(why) => log::warn!("the cached tokens in {} cannot be used ({why}): tokenizing again", dir.display()),
    }
    let (store, mut entries) = tokenize(config, files, tokenizer, &dir, progress)?;
    skip_companions(files, tokenizer, &mut entries);
    say_skipped_with(&entries);
    Ok((store, entries, false))
}

/// A file tokenized: its documents (`None`: one, in the store's builder already) or why
/// it was skipped, and the warnings it gave.
type Encoded = (Result<Option<Vec<Vec<u32>>>, TokenError>, Vec<String>);

/// Tokenizes `files` into a store in `dir`, after the shards that a stopped run left
/// there, in batches of files tokenized in parallel; a large file that its modality
/// encodes in pieces is read piece by piece.
fn tokenize(
    config: &DataConfig,
    files: &[PathBuf],
    tokenizer: Pipeline<'_>,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<(TokenStore, Vec<FileEntry>), DataError> {
    let (mut builder, records) = StoreBuilder::resume::<Vec<FileEntry>>(dir, tokenizer.vocab_size())?;
    let mut entries: Vec<FileEntry> = records.into_iter().flatten().collect();
    let sizes: Vec<u64> = files.par_iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).collect();
    let mut next = entries.len().min(files.len());
    if next > 0 {
        log::info!("tokenizing resumes after {next} file(s) found in the cache");
    }
    progress.begin_bytes("tokenizing", sizes.iter().sum());
    progress.advance(sizes[..next].iter().sum());
    let mut shard: Vec<FileEntry> = Vec::new();
    let streamed = |i: usize| sizes[i] > PIECE_BYTES as u64 && tokenizer.pieces().is_some();
    // A batch holds no more than about a shard, so that a stopped run loses little.
    let batch_bytes = BATCH_BYTES.min(config.shard_tokens);
    while next < files.len() {
        let mut done: Vec<Encoded> = Vec::new();
        if let Some(pieces) = tokenizer.pieces().filter(|_| streamed(next)) {
            let result = encode_in_pieces(pieces, &files[next], &mut builder, progress)?;
            done.push((result.map(|()| None), Vec::new()));
            next += 1;
        } else {
            let mut end = next + 1;
            let mut bytes = sizes[next];
            while end < files.len() && !streamed(end) && bytes + sizes[end] <= batch_bytes {
                bytes += sizes[end];
                end += 1;
            }
            done = files[next..end]
                .par_iter()
                .zip(&sizes[next..end])
                .map(|(f, &size)| {
                    let (docs, warnings) = autoreg_tokens::capture(|| tokenizer.encode_file(f));
                    progress.advance(size);
                    (docs.map(Some), warnings)
                })
                .collect();
            next = end;
        }
        for (result, warnings) in done {
            let path = files[entries.len() + shard.len()].clone();
            shard.push(match result {
                Ok(docs) => {
                    docs.iter().flatten().try_for_each(|d| builder.push(d))?;
                    let docs = docs.map_or(1, |d| d.len());
                    FileEntry { path, docs, error: None, warnings, skipped_with: None }
                }
                Err(e) => FileEntry { path, docs: 0, error: Some(e.to_string()), warnings, skipped_with: None },
            });
            if builder.shard_tokens() >= config.shard_tokens {
                builder.end_shard(&shard)?;
                entries.append(&mut shard);
            }
        }
    }
    progress.end();
    let (store, records) = builder.finish(Some(&shard))?;
    entries.append(&mut shard);
    // Said once the files are read (those of a stopped run's shards too), in their
    // order, so as not to break into a progress bar.
    entries.iter().filter_map(|e| e.error.as_ref()).for_each(|e| log::warn!("skipped {e}"));
    debug_assert_eq!(records.iter().map(Vec::len).sum::<usize>(), entries.len());
    Ok((store, entries))
}

/// Encodes the file at `path` in pieces into one document of `builder`: a batch of
/// pieces read, then encoded in parallel. The inner error says why the file was
/// skipped, its ids dropped.
fn encode_in_pieces(
    pieces: &dyn Pieces,
    path: &Path,
    builder: &mut StoreBuilder,
    progress: &dyn Progress,
) -> Result<Result<(), TokenError>, DataError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return Ok(Err(TokenError::io(path, e))),
    };
    let batch = rayon::current_num_threads().max(1);
    let (mut offset, mut carry, mut at_end) = (0u64, Vec::new(), false);
    while !at_end {
        // Up to `batch` pieces, each ending where the modality allows.
        let mut read: Vec<(u64, Vec<u8>, bool)> = Vec::with_capacity(batch);
        while read.len() < batch && !at_end {
            let mut buf = std::mem::take(&mut carry);
            // The carry of the last piece is a few bytes: there is room to read.
            let want = PIECE_BYTES.max(buf.len() + 1) - buf.len();
            let n = match file.by_ref().take(want as u64).read_to_end(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    builder.abort_doc()?;
                    return Ok(Err(TokenError::io(path, e)));
                }
            };
            at_end = n < want;
            let end = if at_end { buf.len() } else { pieces.piece_end(&buf) };
            carry = buf.split_off(end);
            let len = buf.len() as u64;
            read.push((offset, buf, at_end));
            offset += len;
        }
        let encoded: Vec<Result<Vec<u32>, TokenError>> = read
            .par_iter()
            .map(|(at, bytes, last)| {
                let ids = pieces.encode_piece(&Source::new(path, bytes), *at, *last);
                progress.advance(bytes.len() as u64);
                ids
            })
            .collect();
        for ids in encoded {
            match ids {
                Ok(ids) => builder.extend(&ids)?,
                Err(e) => {
                    builder.abort_doc()?;
                    return Ok(Err(e));
                }
            }
        }
    }
    builder.end_doc()?;
    Ok(Ok(()))
}

/// The training and validation documents of `store`: selections of its documents (or,
/// with `split = "tail"`, of their parts), not copies.
fn split(
    config: &DataConfig,
    store: &TokenStore,
    entries: &[FileEntry],
    seed: u64,
) -> Result<(TokenStore, TokenStore), DataError> {
    let n = store.num_docs();
    let frac = config.val_fraction;
    let whole = |i: usize| (i, 0..store.doc_len(i));
    let by_doc = |is_val: &[bool]| {
        let pick = |want: bool| store.select((0..n).filter(|&i| is_val[i] == want).map(whole));
        (pick(false), pick(true))
    };
    let (train, val) = match config.split {
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
            by_doc(&is_val)
        }
        SplitMode::Tail => {
            let cut = |i: usize| {
                let len = store.doc_len(i);
                len - (len as f64 * frac).ceil() as usize
            };
            let train = store.select((0..n).map(|i| (i, 0..cut(i))));
            let val = store.select((0..n).map(|i| (i, cut(i)..store.doc_len(i))));
            (train, val)
        }
        SplitMode::Files => {
            let names: Vec<String> = entries
                .iter()
                .map(|f| f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
                .collect();
            let val_file: Vec<bool> = match config.val_files.as_deref() {
                Some(pattern) => {
                    let glob = glob::Pattern::new(pattern).map_err(|e| {
                        DataError::Config(format!("data.val_files {pattern:?} is not a valid glob: {e}"))
                    })?;
                    names.iter().map(|n| glob.matches(n)).collect()
                }
                None => {
                    let used: Vec<usize> = (0..names.len()).filter(|&i| entries[i].docs > 0).collect();
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
            // Each file's documents follow the previous file's.
            let is_val: Vec<bool> =
                entries.iter().zip(val_file).flat_map(|(f, v)| std::iter::repeat_n(v, f.docs)).collect();
            by_doc(&is_val)
        }
    };
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
        let identity = Identity { vocab_size: tok.vocab_size() };
        let pipeline = Pipeline::new(tok, &identity);
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

    /// The shards of the one cache entry under `cfg`, in order.
    fn shards(cfg: &DataConfig) -> Vec<PathBuf> {
        let dir = cfg.cache_dir.as_ref().unwrap();
        let entry = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).find(|p| p.is_dir()).unwrap();
        let mut found: Vec<PathBuf> = std::fs::read_dir(entry).unwrap().flatten().map(|e| e.path()).collect();
        found.retain(|p| p.extension().is_some_and(|e| e == "tokens"));
        found.sort();
        found
    }

    #[test]
    fn a_cache_overwritten_with_other_ids_misses_and_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..4).map(|i| write(dir.path(), &format!("{i}.txt"), b"abcabc")).collect();
        let tok = TextConfig { level: Level::Char }.build(&files).unwrap();
        let cfg = config(dir.path());
        let fresh = load(&cfg, &files, &tok, "tok").unwrap();
        // Copies: the fresh split reads the shard that is changed below.
        let fresh: Vec<Vec<Vec<u32>>> =
            [fresh.train, fresh.val].iter().map(|s| s.docs().map(|d| d.into_owned()).collect()).collect();
        let shard = &shards(&cfg)[0];
        // Valid ids, the same size: the checksum tells.
        let mut bytes = std::fs::read(shard).unwrap();
        bytes[130] ^= 1;
        std::fs::write(shard, &bytes).unwrap();
        let again = load(&cfg, &files, &tok, "tok").unwrap();
        assert!(!again.from_cache);
        let again: Vec<Vec<Vec<u32>>> =
            [again.train, again.val].iter().map(|s| s.docs().map(|d| d.into_owned()).collect()).collect();
        assert_eq!(again, fresh);
        assert!(load(&cfg, &files, &tok, "tok").unwrap().from_cache, "the cache is written again");
    }

    /// Progress that stops the process's work (a panic, as a kill would) after `n`
    /// bytes.
    struct KillAfter(u64, std::sync::atomic::AtomicU64);

    impl Progress for KillAfter {
        fn begin(&self, _what: &str, _total: u64) {}
        fn advance(&self, n: u64) {
            if self.1.fetch_add(n, std::sync::atomic::Ordering::SeqCst) + n > self.0 {
                panic!("killed");
            }
        }
        fn end(&self) {}
    }

    #[test]
    fn tokenizing_stopped_halfway_resumes_to_the_same_store() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..40)
            .map(|i| write(dir.path(), &format!("d/{i:02}.txt"), format!("text {i} ").repeat(50).as_bytes()))
            .collect();
        let tok = autoreg_text::TextTokenizer::byte();
        let identity = Identity { vocab_size: tok.vocab_size() };
        let pipeline = Pipeline::new(&tok, &identity);
        let cfg = |name: &str| DataConfig { shard_tokens: 2000, ..config(&dir.path().join(name)) };
        let whole = load(&cfg("whole"), &files, &tok, "t").unwrap();
        assert!(shards(&cfg("whole")).len() > 5, "several shards: {:?}", shards(&cfg("whole")));
        let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            load_dataset(&cfg("killed"), &files, pipeline, "t", 1, &KillAfter(12_000, 0.into())).map(|_| ())
        }));
        assert!(killed.is_err());
        let left = shards(&cfg("killed")).len();
        assert!(left > 0 && left < shards(&cfg("whole")).len(), "{left} shards were left");
        let resumed = load(&cfg("killed"), &files, &tok, "t").unwrap();
        assert!(!resumed.from_cache);
        assert_eq!((&resumed.train, &resumed.val), (&whole.train, &whole.val));
        let (a, b) = (shards(&cfg("whole")), shards(&cfg("killed")));
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap(), "{}", b.display());
        }
    }

    #[test]
    fn a_large_file_is_encoded_in_pieces_as_it_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        // More than a piece, with characters of 1 to 4 bytes across the pieces' ends.
        let text: String = "aé€😀\n".repeat(PIECE_BYTES / 5 + 7);
        let files = vec![write(dir.path(), "big.txt", text.as_bytes()), write(dir.path(), "small.txt", b"a")];
        let chars = TextConfig { level: Level::Char }.build(&files).unwrap();
        for tok in [chars.clone(), autoreg_text::TextTokenizer::byte()] {
            let cfg = DataConfig { split: SplitMode::Tail, ..config(&dir.path().join(format!("{:?}", tok.level()))) };
            let data = load(&cfg, &files, &tok, "t").unwrap();
            let whole = tok.encode(&Source::new(&files[0], text.as_bytes())).unwrap().remove(0);
            let mut streamed = data.train.doc(0).into_owned();
            streamed.extend_from_slice(&data.val.doc(0));
            assert!(streamed == whole, "{} tokens against {}", streamed.len(), whole.len());
        }
        // An error deep in the file names its byte, and the file is skipped.
        let mut bad = text.into_bytes();
        let at = bad.len() - 1;
        bad[at] = 0xff;
        std::fs::write(&files[0], &bad).unwrap();
        let cfg = DataConfig { split: SplitMode::Tail, ..config(&dir.path().join("bad")) };
        let data = load(&cfg, &files, &chars, "t").unwrap();
        assert_eq!(data.skipped.len(), 1);
        assert!(data.skipped[0].contains(&format!("at offset {at}")), "{:?}", data.skipped);
        assert_eq!(data.train.num_docs(), 1);
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
        write(dir.path(), "0.labels", b"22");
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
