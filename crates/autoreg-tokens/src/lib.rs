//! Core types shared by every autoreg modality: the stages of a tokenizer (a
//! [`Modality`] with its optional [`Extras`], then an [`IdModel`]), the [`Pipeline`]
//! that joins them, the [`TokenStore`] that holds tokenized documents, and
//! [`write_atomic`].
//!
//! This crate has no heavy dependencies (no tch, no codecs), so that modality crates
//! build and test in seconds.

mod atomic;
mod error;
mod frames;
mod modality;
mod notice;
mod pipeline;
mod specials;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use atomic::write_atomic;
pub use error::TokenError;
pub use frames::{FrameLayout, Frames};
pub use modality::{
    Augment, Classes, Companions, Decoded, Extras, Inputs, MergeRule, Modality, ModalityBuilder, Overview, Prompts,
    Source, Split, Units,
};
pub use notice::{SaidOnce, capture, warn};
pub use pipeline::{IdModel, Identity, Pipeline};
pub use specials::Specials;
pub use store::TokenStore;
