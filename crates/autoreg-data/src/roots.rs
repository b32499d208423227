//! Data roots: the folders searched for data files, in order. This is the one place
//! that reads `$AUTOREG_DATA`; the training command, the benchmarks and every test that
//! reads a real data set find their data through it.

use crate::config::DataConfig;
use crate::error::DataError;
use std::path::{Path, PathBuf};

/// The environment variable that names a data root of the user's own.
const DATA_ENV: &str = "AUTOREG_DATA";

/// A folder searched for data, with what named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRoot {
    /// The folder.
    pub path: PathBuf,
    /// Where it came from: `"data.root"`, `"AUTOREG_DATA"`, `"the project's datasets/"`
    /// or `"the datasets/ of autoreg's checkout"`.
    pub from: &'static str,
}

impl std::fmt::Display for DataRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.from)
    }
}

/// `$AUTOREG_DATA`, when set.
fn env_root() -> Option<DataRoot> {
    std::env::var_os(DATA_ENV).map(|env| DataRoot { path: PathBuf::from(env), from: DATA_ENV })
}

/// The `datasets/` folder of the checkout this program was built from.
fn checkout_root() -> DataRoot {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    let path = std::fs::canonicalize(&built).unwrap_or(built);
    DataRoot { path, from: "the datasets/ of autoreg's checkout" }
}

/// The data roots, in order. `root` (a config's `data.root`), when given, is the only
/// one, taken relative to `base` (the folder of the config file). Otherwise
/// `$AUTOREG_DATA` when set, then the data sets the project carries: the first
/// `datasets/` folder at or above `base`, then the one of the checkout this program was
/// built from. So a config finds the carried data from any working folder.
pub fn data_roots(root: Option<&Path>, base: &Path) -> Vec<DataRoot> {
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    if let Some(root) = root {
        return vec![DataRoot { path: base.join(root), from: "data.root" }];
    }
    let mut roots: Vec<DataRoot> = env_root().into_iter().collect();
    if let Some(found) = base.ancestors().map(|a| a.join("datasets")).find(|d| d.is_dir()) {
        roots.push(DataRoot { path: found, from: "the project's datasets/" });
    }
    let built = checkout_root();
    if !roots.iter().any(|r| r.path == built.path) {
        roots.push(built);
    }
    roots
}

/// `path` under the first of `roots` that holds it; `key` names the config key that
/// gave `path`, for the error.
fn first_holding(path: &Path, roots: Vec<DataRoot>, key: Option<&'static str>) -> Result<PathBuf, DataError> {
    match roots.iter().map(|root| root.path.join(path)).find(|p| p.exists()) {
        Some(found) => Ok(found),
        None => Err(DataError::NotFound { key, path: path.to_path_buf(), tried: roots }),
    }
}

/// The data file or folder named by `[data]`: `data.path` under the first of
/// [`data_roots`] (from `data.root` and `base`, the config file's folder) that holds it.
pub fn resolve_data_path(config: &DataConfig, base: &Path) -> Result<PathBuf, DataError> {
    if config.path.as_os_str().is_empty() {
        return Err(DataError::Config("data.path is not set: name a file or a folder of data".into()));
    }
    first_holding(&config.path, data_roots(config.root.as_deref(), base), Some("data.path"))
}

/// A data set's file or folder, `path` (such as `"fsdd/recordings"`), for tests,
/// examples and benchmarks, which have no config. With `$AUTOREG_DATA` set it is looked
/// up there alone, since that root holds the full data sets and a smaller carried copy
/// must not stand in for one silently; otherwise in the `datasets/` of autoreg's
/// checkout, which carries whole sets or parts of them (see [`full_data_sets`]). Missing
/// data is an error that names the root tried, so that a test that needs it fails.
pub fn find_data(path: impl AsRef<Path>) -> Result<PathBuf, DataError> {
    first_holding(path.as_ref(), vec![env_root().unwrap_or_else(checkout_root)], None)
}

/// Whether [`find_data`] reads a data root of the user's own (`$AUTOREG_DATA`), holding
/// the full data sets, rather than the checkout's `datasets/`, which carries some of
/// them only in part (the FSDD test split, about 1 MB of the Python standard library).
pub fn full_data_sets() -> bool {
    env_root().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_data_path_names_the_path_and_the_root() {
        let cfg =
            DataConfig { path: "nowhere/input.txt".into(), root: Some("/tmp/no-root".into()), ..Default::default() };
        let err = resolve_data_path(&cfg, Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("nowhere/input.txt not found") && err.contains("/tmp/no-root (data.root)"), "{err}");
        assert!(err.starts_with("data: data.path nowhere/input.txt") && err.ends_with("set data.root or AUTOREG_DATA"));
        let unset = resolve_data_path(&DataConfig::default(), Path::new(".")).unwrap_err().to_string();
        assert_eq!(unset, "data.path is not set: name a file or a folder of data");
    }

    #[test]
    fn carried_data_is_found_above_the_config_folder_from_any_working_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("datasets/set")).unwrap();
        std::fs::write(dir.path().join("datasets/set/a.txt"), b"a").unwrap();
        std::fs::create_dir_all(dir.path().join("configs/deep")).unwrap();
        let cfg = DataConfig { path: "set/a.txt".into(), ..Default::default() };
        let found = resolve_data_path(&cfg, &dir.path().join("configs/deep")).unwrap();
        assert_eq!(found, std::fs::canonicalize(dir.path()).unwrap().join("datasets/set/a.txt"));
        // A relative data.root is taken from the config's folder, not the working folder.
        let rooted = DataConfig { root: Some("../datasets".into()), ..cfg };
        let found = resolve_data_path(&rooted, &dir.path().join("configs")).unwrap();
        assert!(found.ends_with("datasets/set/a.txt") && found.is_file(), "{}", found.display());
    }

    #[test]
    fn the_checkout_carries_the_demo_data_sets() {
        let roots = data_roots(None, Path::new("/"));
        let carried = &roots.last().unwrap().path;
        for set in ["tinyshakespeare/input.txt", "digits/digits.csv.gz", "nottingham/melody", "nottingham/LICENSE.md"] {
            assert!(carried.join(set).exists(), "{} is not carried", carried.join(set).display());
        }
    }

    /// The parts carried for the tests, each with its licence, within the sizes that
    /// the data sets' terms allow (see `datasets/README.md`).
    #[test]
    fn the_checkout_carries_the_test_parts_with_their_licences() {
        let carried = checkout_root().path;
        for file in [
            "mnist-test/t10k-images-idx3-ubyte.gz",
            "mnist-test/t10k-labels-idx1-ubyte.gz",
            "mnist-test/README.md",
            "fsdd/UPSTREAM-README.md",
            "python-stdlib/LICENSE.txt",
        ] {
            assert!(carried.join(file).is_file(), "{} is not carried", carried.join(file).display());
        }
        // The FSDD test split: every digit, speaker and index 0-4, nothing else.
        let wavs = crate::list_files(&carried.join("fsdd/recordings"), &["wav".to_owned()]).unwrap();
        assert_eq!(wavs.len(), 300);
        for wav in &wavs {
            let stem = wav.file_stem().unwrap().to_str().unwrap();
            let index: u32 = stem.rsplit('_').next().unwrap().parse().unwrap();
            assert!(index < 5, "{} is not in the test split", wav.display());
        }
        // At most 1 MB of the standard library.
        let py = crate::list_files(&carried.join("python-stdlib/src"), &["py".to_owned()]).unwrap();
        let bytes: u64 = py.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
        assert!(py.len() > 100 && bytes <= 1 << 20, "{} files, {bytes} bytes", py.len());
    }

    #[test]
    fn find_data_lists_the_roots_it_tried() {
        let err = find_data("no-such-set/file.bin").unwrap_err().to_string();
        assert!(err.starts_with("data: no-such-set/file.bin not found under any data root: tried "), "{err}");
        let tried = if full_data_sets() { "(AUTOREG_DATA)" } else { "(the datasets/ of autoreg's checkout)" };
        assert!(err.contains(tried) && err.ends_with("; set AUTOREG_DATA"), "{err}");
    }
}
