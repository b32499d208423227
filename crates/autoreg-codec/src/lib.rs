//! Learned tokenizer stages for autoreg: a neural codec that turns a recording into a
//! few codes per second, or an image into a grid of codes (one per patch), and back,
//! trained with libtorch on the training split of a run.
//!
//! [`Coded`] puts a [`Codec`] in front of any modality whose ids carry a signal
//! ([`autoreg_tokens::Signal`]): each run of its value ids becomes codes, its other ids
//! (classes, specials) keep their place after the codes. [`train`] learns a codec;
//! [`Codec::save`] and [`Codec::attach`] write and read its weights as safetensors,
//! checked against the BLAKE3 checksum that `tokenizer.json` holds.

mod codec;
mod coded;
mod config;
mod error;
mod features;
mod mel;
mod net;
mod train;

pub use codec::{Codec, Trained, griffin_lim_of};
pub use coded::Coded;
pub use config::CodecConfig;
pub use error::CodecError;
pub use mel::mel_filters;
pub use train::{Training, train};
