//! The data pipeline of autoreg, without libtorch: data roots (the one resolver of data
//! paths), file discovery, data sets tokenized once into a checksummed cache, the
//! training/validation split, and the random windows that training draws from a split.
//!
//! The tensors made from windows belong to `autoreg-train`; this crate depends only on
//! `autoreg-tokens` and light crates, so that modality crates can use it in their tests.

mod config;
mod dataset;
mod error;
mod files;
mod progress;
mod roots;
mod store;
mod windows;

pub use config::{DataConfig, SplitMode, Windows};
pub use dataset::{Dataset, SourceSpan, cache_dir, load_dataset};
pub use error::DataError;
pub use files::list_files;
pub use progress::{Progress, Silent};
pub use roots::{DataRoot, data_roots, find_data, full_data_sets, resolve_data_path};
pub use store::{Ids, StoreBuilder, StoreError, TokenStore, lock_folder, open_folder};
pub use windows::{Cut, WindowSampler};
