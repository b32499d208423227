//! Data sets: files found under a data root, tokenized once in parallel into a cache
//! keyed by the tokenizer and the files' contents, then split for validation.

use crate::config::{DataConfig, SplitMode, Windows};
use crate::error::TrainError;
use autoreg_tokens::{TokenStore, Tokenizer, write_atomic};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A tokenized data set, split into training and validation documents.
#[derive(Debug)]
pub struct Dataset {
    /// Training documents.
    pub train: TokenStore,
    /// Validation documents.
    pub val: TokenStore,
    /// Files that gave documents.
    pub files_used: usize,
    /// Files that were skipped, with the reason.
    pub skipped: Vec<String>,
    /// Whether the tokens came from the cache.
    pub from_cache: bool,
    /// How training windows are cut.
    pub windows: Windows,
}

/// The data file or folder named by `[data]`, resolved against the data root:
/// `data.root`, else `$AUTOREG_DATA`, else `datasets/`. It must exist.
pub fn resolve_data_path(config: &DataConfig) -> Result<PathBuf, TrainError> {
    if config.path.as_os_str().is_empty() {
        return Err(TrainError::Config("data.path is not set: name a file or a folder of data".into()));
    }
    let (root, from) = match (&config.root, std::env::var_os("AUTOREG_DATA")) {
        (Some(root), _) => (root.clone(), "data.root"),
        (None, Some(env)) => (PathBuf::from(env), "AUTOREG_DATA"),
        (None, None) => (PathBuf::from("datasets"), "the default data root"),
    };
    let path = root.join(&config.path);
    if !path.exists() {
        return Err(TrainError::Data(format!(
            "data.path {} not found: {} does not exist (data root {} from {from}; set data.root or AUTOREG_DATA)",
            config.path.display(),
            path.display(),
            root.display(),
        )));
    }
    Ok(path)
}

/// The data files at `path`: the file itself, or every file under the folder whose
/// extension is one of `extensions` (hidden entries skipped), in sorted order.
pub fn list_files(path: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, TrainError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut folders = vec![path.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|e| TrainError::io(&folder, e))? {
            let entry = entry.map_err(|e| TrainError::io(&folder, e))?;
            let p = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                folders.push(p);
            } else if p
                .extension()
                .is_some_and(|e| extensions.iter().any(|x| e.to_string_lossy().eq_ignore_ascii_case(x)))
            {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        let wanted = extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", ");
        return Err(TrainError::Data(format!("no {wanted} files in {}", path.display())));
    }
    files.sort();
    Ok(files)
}

/// What the cache records about each file, beside the tokens.
#[derive(Serialize, Deserialize)]
struct Manifest {
    /// Per file: its path and how many documents it gave, or why it was skipped.
    files: Vec<FileEntry>,
}

#[derive(Serialize, Deserialize)]
struct FileEntry {
    path: PathBuf,
    docs: usize,
    error: Option<String>,
}

/// Tokenizes `files` (or loads them from the cache) and splits the documents.
/// `tokenizer_json` is the saved tokenizer: with the files' contents it keys the cache.
pub fn load_dataset(
    config: &DataConfig,
    files: &[PathBuf],
    tokenizer: &dyn Tokenizer,
    tokenizer_json: &str,
    seed: u64,
) -> Result<Dataset, TrainError> {
    let (store, manifest, from_cache) = tokenize_cached(config, files, tokenizer, tokenizer_json)?;
    let skipped: Vec<String> = manifest.files.iter().filter_map(|f| f.error.clone()).collect();
    let files_used = manifest.files.len() - skipped.len();
    if store.num_docs() == 0 {
        return Err(TrainError::Data(format!(
            "no usable data: all {} file(s) were skipped{}",
            files.len(),
            skipped.first().map(|s| format!(" (first: {s})")).unwrap_or_default()
        )));
    }
    let (train, val) = split(config, &store, &manifest, seed)?;
    Ok(Dataset { train, val, files_used, skipped, from_cache, windows: config.windows })
}

fn tokenize_cached(
    config: &DataConfig,
    files: &[PathBuf],
    tokenizer: &dyn Tokenizer,
    tokenizer_json: &str,
) -> Result<(TokenStore, Manifest, bool), TrainError> {
    // Each file's length and hash in parallel, then combined in file order.
    let digests: Vec<(u64, blake3::Hash)> = files
        .par_iter()
        .map(|f| {
            let bytes = std::fs::read(f).unwrap_or_default(); // unreadable files are reported below
            (bytes.len() as u64, blake3::hash(&bytes))
        })
        .collect();
    let mut hasher = blake3::Hasher::new();
    hasher.update(tokenizer_json.as_bytes());
    for (f, (len, hash)) in files.iter().zip(&digests) {
        hasher.update(f.to_string_lossy().as_bytes());
        hasher.update(&len.to_le_bytes());
        hasher.update(hash.as_bytes());
    }
    let key = hasher.finalize().to_hex();
    let cache_dir = config
        .cache_dir
        .clone()
        .or_else(|| dirs::cache_dir().map(|d| d.join("autoreg")))
        .unwrap_or_else(|| PathBuf::from(".autoreg-cache"));
    let tokens_path = cache_dir.join(format!("{}.tokens", &key[..32]));
    let manifest_path = cache_dir.join(format!("{}.json", &key[..32]));

    let cached = std::fs::read(&manifest_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .and_then(|m| TokenStore::load(&tokens_path).ok().map(|s| (s, m)));
    if let Some((store, manifest)) = cached {
        for reason in manifest.files.iter().filter_map(|f| f.error.as_ref()) {
            eprintln!("warning: skipped {reason}");
        }
        return Ok((store, manifest, true));
    }

    let bar = ProgressBar::new(files.len() as u64).with_style(
        ProgressStyle::with_template("tokenizing {bar:30} {pos}/{len} files {elapsed} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let results: Vec<_> = files
        .par_iter()
        .map(|f| {
            let r = tokenizer.encode_file(f);
            if let Err(e) = &r {
                bar.suspend(|| eprintln!("warning: skipped {e}"));
            }
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();

    let mut store = TokenStore::new();
    let mut entries = Vec::with_capacity(files.len());
    for (path, result) in files.iter().zip(results) {
        match result {
            Ok(docs) => {
                docs.iter().for_each(|d| store.push(d));
                entries.push(FileEntry { path: path.clone(), docs: docs.len(), error: None });
            }
            Err(e) => entries.push(FileEntry { path: path.clone(), docs: 0, error: Some(e.to_string()) }),
        }
    }
    let manifest = Manifest { files: entries };
    // The cache is an optimisation: failing to write it is worth a warning, no more.
    let saved = std::fs::create_dir_all(&cache_dir)
        .map_err(|e| TrainError::io(&cache_dir, e))
        .and_then(|()| store.save(&tokens_path).map_err(TrainError::from))
        .and_then(|()| {
            let json = serde_json::to_vec(&manifest).unwrap_or_default();
            write_atomic(&manifest_path, &json).map_err(TrainError::from)
        });
    if let Err(e) = saved {
        eprintln!("warning: cannot cache tokenized data: {e}");
    }
    Ok((store, manifest, false))
}

fn split(
    config: &DataConfig,
    store: &TokenStore,
    manifest: &Manifest,
    seed: u64,
) -> Result<(TokenStore, TokenStore), TrainError> {
    let n = store.num_docs();
    let frac = config.val_fraction;
    let by_glob = config.split == SplitMode::Files && config.val_files.is_some();
    if !(by_glob || frac > 0.0 && frac < 1.0) {
        return Err(TrainError::Config(format!("data.val_fraction must be in (0, 1), got {frac}")));
    }
    let mut train = TokenStore::new();
    let mut val = TokenStore::new();
    match config.split {
        SplitMode::Documents => {
            if n < 2 {
                return Err(TrainError::Data(format!(
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
                        TrainError::Config(format!("data.val_files {pattern:?} is not a valid glob: {e}"))
                    })?;
                    names.iter().map(|n| glob.matches(n)).collect()
                }
                None => {
                    let used: Vec<usize> = (0..names.len()).filter(|&i| manifest.files[i].docs > 0).collect();
                    if used.len() < 2 {
                        return Err(TrainError::Data(format!(
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
            return Err(TrainError::Data(format!("the {name} split is empty: check data.split and data.val_fraction")));
        }
    }
    Ok((train, val))
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoreg_text::{Level, TextConfig};
    use autoreg_tokens::TokenizerBuilder;

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
    fn lists_matching_files_recursively_in_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.txt", b"b");
        write(dir.path(), "sub/a.TXT", b"a");
        write(dir.path(), "notes.md", b"n");
        write(dir.path(), ".hidden.txt", b"h");
        let files = list_files(dir.path(), &["txt"]).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.strip_prefix(dir.path()).unwrap().to_owned()).collect();
        assert_eq!(names, [PathBuf::from("b.txt"), PathBuf::from("sub/a.TXT")]);
        let err = list_files(dir.path(), &["mid"]).unwrap_err().to_string();
        assert!(err.contains("no .mid files in"), "{err}");
    }

    #[test]
    fn missing_data_path_names_the_path_and_the_root() {
        let cfg =
            DataConfig { path: "nowhere/input.txt".into(), root: Some("/tmp/no-root".into()), ..Default::default() };
        let err = resolve_data_path(&cfg).unwrap_err().to_string();
        assert!(err.contains("/tmp/no-root/nowhere/input.txt does not exist") && err.contains("data.root"), "{err}");
    }

    #[test]
    fn skips_bad_files_uses_the_cache_and_splits_by_document() {
        let dir = tempfile::tempdir().unwrap();
        let mut files: Vec<PathBuf> = (0..10).map(|i| write(dir.path(), &format!("{i}.txt"), b"hello")).collect();
        files.push(write(dir.path(), "bad.txt", b"\xff\xfe"));
        let tok = TextConfig { level: Level::Char }.build(&files).unwrap();
        let cfg = config(dir.path());
        let a = load_dataset(&cfg, &files, &tok, "tok", 1).unwrap();
        assert_eq!((a.files_used, a.skipped.len(), a.from_cache), (10, 1, false));
        assert!(a.skipped[0].contains("bad.txt: not UTF-8"), "{:?}", a.skipped);
        assert_eq!((a.train.num_docs(), a.val.num_docs()), (9, 1));
        let b = load_dataset(&cfg, &files, &tok, "tok", 1).unwrap();
        assert!(b.from_cache);
        assert_eq!((b.train, b.val, b.skipped), (a.train, a.val, a.skipped));
        // Another tokenizer, or changed contents, miss the cache.
        assert!(!load_dataset(&cfg, &files, &tok, "other", 1).unwrap().from_cache);
        std::fs::write(&files[0], b"hell").unwrap();
        assert!(!load_dataset(&cfg, &files, &tok, "tok", 1).unwrap().from_cache);
    }

    #[test]
    fn tail_split_cuts_every_document_and_files_split_follows_the_glob() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![write(dir.path(), "3_a_0.txt", b"abcdefgh"), write(dir.path(), "3_a_7.txt", b"abcdefgh")];
        let tok = TextConfig { level: Level::Byte }.build(&files).unwrap();
        let tail = DataConfig { split: SplitMode::Tail, val_fraction: 0.2, ..config(dir.path()) };
        let d = load_dataset(&tail, &files, &tok, "t", 1).unwrap();
        assert_eq!((d.train.num_tokens(), d.val.num_tokens()), (16, 4)); // 10 tokens each, 2 validate
        let by_file =
            DataConfig { split: SplitMode::Files, val_files: Some("*_[0-4].txt".into()), ..config(dir.path()) };
        let d = load_dataset(&by_file, &files, &tok, "t", 1).unwrap();
        assert_eq!((d.train.num_docs(), d.val.num_docs()), (1, 1));
        let random_files = DataConfig { split: SplitMode::Files, val_fraction: 0.5, ..config(dir.path()) };
        let d = load_dataset(&random_files, &files, &tok, "t", 1).unwrap();
        assert_eq!((d.train.num_docs(), d.val.num_docs()), (1, 1));
        let one_doc = load_dataset(&config(dir.path()), &files[..1], &tok, "t", 1).unwrap_err().to_string();
        assert!(one_doc.contains("at least 2 documents"), "{one_doc}");
    }

    #[test]
    fn no_usable_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![write(dir.path(), "bad.txt", b"\xff")];
        let tok = autoreg_text::TextTokenizer::char(vec!['a']).unwrap();
        let err = load_dataset(&config(dir.path()), &files, &tok, "t", 1).unwrap_err().to_string();
        assert!(err.contains("no usable data: all 1 file(s) were skipped (first: "), "{err}");
    }
}
