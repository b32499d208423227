//! Core types shared by every autoreg modality: the stages of a tokenizer (a
//! [`Modality`] with its optional [`Extras`], then an [`IdModel`]), the [`Pipeline`]
//! that joins them, the [`Mixture`] of several in one vocabulary with [`Captioned`]
//! sources, and [`write_atomic`].
//!
//! This crate has no heavy dependencies (no tch, no codecs), so that modality crates
//! build and test in seconds.

mod atomic;
mod caption;
mod error;
mod fim;
mod frames;
mod label;
mod mixture;
mod modality;
mod notice;
#[cfg(test)]
mod pair;
mod pipeline;
mod specials;
#[cfg(feature = "testing")]
pub mod testing;

pub use atomic::{write_atomic, write_atomic_with};
pub use caption::{Caption, Captioned};
pub use error::TokenError;
pub use fim::{Cut, FimRates, Glyph, Order, Sentinels, Spans, line_boundaries, marker_boundaries};
pub use frames::{FrameLayout, Frames};
pub use label::LabelPattern;
pub use mixture::{Grammar, MAX_CAPTION, Mixture, Parts, Segment, SegmentRules, Stages};
pub use modality::{
    Augment, Characters, Classes, Companions, Decoded, Extras, Inputs, MergeRule, Modality, ModalityBuilder, Overview,
    Pieces, Prompts, Signal, SignalShape, Source, Split, Titles, Units,
};
pub use notice::{SaidOnce, capture, warn};
pub use pipeline::{IdModel, Identity, Pipeline};
pub use specials::Specials;
