//! MIDI tokenizers for autoreg: Standard MIDI Files to REMI or TSD tokens and back.
//!
//! [`Score::from_midi`] reads any Standard MIDI File into plain [`Note`]s and tempo and
//! time-signature maps; [`MidiTokenizer`] quantizes a score to a grid and writes it as
//! MidiTok-style tokens (`Bar Position_0 Pitch_67 Velocity_79 Duration_4 ...`), split on
//! bar lines into documents; decoding writes a MIDI file again. [`render_piano_roll`]
//! and [`render_preview_wav`] show and play a score.

mod config;
mod decode;
mod encode;
mod grid;
mod read;
mod render;
mod score;
mod tokenizer;
mod vocab;
mod write;

pub use config::{Meter, MidiConfig, Scheme};
pub use decode::DecodeError;
pub use render::{SAMPLE_RATE, render_midi_file, render_piano_roll, render_preview_wav, render_previews};
pub use score::{DEFAULT_MICROS_PER_BEAT, DRUM_CHANNEL, Note, Score, Tempo, TimeSignature};
pub use tokenizer::{DecodeReport, MidiTokenizer};
