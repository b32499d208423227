//! Lossy conversions of input recordings, each kind reported once per tokenizer.

use hound::{SampleFormat, WavSpec};
use std::fmt;

/// A change that loses part of a recording on its way to tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lossy {
    /// This many channels mixed down to mono.
    Channels(u16),
    /// Resampled from the file's rate to the tokenizer's, in Hz.
    Rate {
        /// The file's rate.
        from: u32,
        /// The tokenizer's `sample_rate`.
        to: u32,
    },
    /// Samples finer than the 16 bits that tokens and decoded audio hold at most.
    Depth {
        /// Bits per sample in the file.
        bits: u16,
        /// Whether they are floating point (whose values beyond full scale are clipped).
        float: bool,
    },
}

impl Lossy {
    /// Number of kinds: one report flag each.
    const KINDS: usize = 3;

    /// The kind's index in [`Reported`].
    pub(crate) fn kind(self) -> usize {
        match self {
            Self::Channels(_) => 0,
            Self::Rate { .. } => 1,
            Self::Depth { .. } => 2,
        }
    }

    /// What reading a file of `spec` for a tokenizer at `rate` Hz loses.
    pub(crate) fn of_spec(spec: &WavSpec, rate: u32) -> Vec<Self> {
        let float = spec.sample_format == SampleFormat::Float;
        [
            (spec.channels > 1).then_some(Self::Channels(spec.channels)),
            (spec.sample_rate != rate).then_some(Self::Rate { from: spec.sample_rate, to: rate }),
            (float || spec.bits_per_sample > 16).then_some(Self::Depth { bits: spec.bits_per_sample, float }),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl fmt::Display for Lossy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Channels(2) => f.write_str("is stereo: its channels are mixed to mono"),
            Self::Channels(n) => write!(f, "has {n} channels: they are mixed to mono"),
            Self::Rate { from, to } => write!(f, "is {from} Hz: it is resampled to {to} Hz"),
            Self::Depth { bits, float: false } => {
                write!(f, "has {bits}-bit samples: tokens and decoded audio hold at most 16 bits")
            }
            Self::Depth { bits, float: true } => write!(
                f,
                "has {bits}-bit float samples: tokens and decoded audio hold at most 16 bits, \
                 and values beyond full scale are clipped"
            ),
        }
    }
}

/// The kinds of [`Lossy`] conversion already reported by one tokenizer.
pub(crate) type Reported = autoreg_tokens::SaidOnce<{ Lossy::KINDS }>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_of_a_file_are_named() {
        let spec = WavSpec { channels: 2, sample_rate: 44100, bits_per_sample: 24, sample_format: SampleFormat::Int };
        let lossy = Lossy::of_spec(&spec, 8000);
        assert_eq!(
            lossy,
            [Lossy::Channels(2), Lossy::Rate { from: 44100, to: 8000 }, Lossy::Depth { bits: 24, float: false }]
        );
        assert_eq!(lossy[0].to_string(), "is stereo: its channels are mixed to mono");
        let plain = WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, ..spec };
        assert!(Lossy::of_spec(&plain, 8000).is_empty());
        let float = WavSpec { bits_per_sample: 32, sample_format: SampleFormat::Float, ..plain };
        assert!(Lossy::of_spec(&float, 8000)[0].to_string().contains("clipped"));
        assert_eq!(Lossy::Channels(6).to_string(), "has 6 channels: they are mixed to mono");
    }
}
