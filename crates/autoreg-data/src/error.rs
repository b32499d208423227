use crate::roots::DataRoot;
use std::path::PathBuf;

/// What can go wrong while finding, reading, tokenizing, caching or splitting data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file or folder is under none of the data roots.
    #[error("data: {} not found under any data root: tried {}; set {}AUTOREG_DATA",
        named(*key, path), tried_list(tried), if key.is_some() { "data.root or " } else { "" })]
    NotFound {
        /// The config key that names `path` (`data.path`), if a config names it.
        key: Option<&'static str>,
        /// The path looked for, relative to each root.
        path: PathBuf,
        /// The roots searched, in order.
        tried: Vec<DataRoot>,
    },
    /// A data path is neither a regular file nor a folder (a FIFO, a device).
    #[error("data: {} is neither a regular file nor a folder", path.display())]
    NotFileOrFolder {
        /// The data path.
        path: PathBuf,
    },
    /// A data folder holds no file of the modality's extensions.
    #[error("data: no {} files in {}", dotted(extensions), path.display())]
    NoFiles {
        /// The data folder.
        path: PathBuf,
        /// The extensions looked for, without dots.
        extensions: Vec<String>,
    },
    /// The data set is empty or too small for its split or its windows.
    #[error("data: {0}")]
    Unusable(String),
    /// The token store (the cache) could not be written or read.
    #[error("{0} (the token cache: data.cache_dir sets its folder)")]
    Store(#[from] crate::store::StoreError),
    /// A tokenizer error while preparing data.
    #[error(transparent)]
    Token(#[from] autoreg_tokens::TokenError),
    /// The `[data]` configuration cannot work (the key named).
    #[error("{0}")]
    Config(String),
}

impl DataError {
    /// A [`DataError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

/// `path`, after the key that names it if any: `data.path set/a.txt`.
fn named(key: Option<&str>, path: &std::path::Path) -> String {
    match key {
        Some(key) => format!("{key} {}", path.display()),
        None => path.display().to_string(),
    }
}

/// The roots as a list: `/a (AUTOREG_DATA), /b (the project's datasets/)`.
fn tried_list(tried: &[DataRoot]) -> String {
    tried.iter().map(DataRoot::to_string).collect::<Vec<_>>().join(", ")
}

/// Extensions with their dots: `.txt, .md`.
fn dotted(extensions: &[String]) -> String {
    extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", ")
}
