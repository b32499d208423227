//! Core types shared by every autoreg modality: the [`Tokenizer`] trait, the
//! [`TokenStore`] that holds tokenized documents, and [`write_atomic`].
//!
//! This crate has no heavy dependencies (no tch, no codecs), so that modality crates
//! build and test in seconds.

mod atomic;
mod error;
mod notice;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod tokenizer;

pub use atomic::write_atomic;
pub use error::TokenError;
pub use notice::{SaidOnce, capture, warn};
pub use store::TokenStore;
pub use tokenizer::{PromptCut, Specials, Tokenizer, TokenizerBuilder};
