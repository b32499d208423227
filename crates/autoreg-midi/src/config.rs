//! `[tokenizer] kind = "midi"`: the configuration, which fixes the vocabulary.

use crate::tokenizer::MidiTokenizer;
use autoreg_tokens::{ModalityBuilder, TokenError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The tokenization scheme (MidiTok's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `Bar`, `Position_k`, then the notes at that position.
    #[default]
    Remi,
    /// Time-shift, duration: `TimeShift_d` between onsets, no bars.
    Tsd,
}

/// A time signature as written in the config, `"6/8"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Meter {
    /// Beats in a bar.
    pub numerator: u8,
    /// Note value of a beat, a power of two from 1 to 64.
    pub denominator: u8,
}

impl Meter {
    /// Length of a bar in quarter notes.
    pub fn quarters(&self) -> f64 {
        f64::from(self.numerator) * 4.0 / f64::from(self.denominator)
    }

    /// Length of a bar in grid steps at `positions_per_beat` (a whole number in a
    /// validated config).
    pub fn steps(&self, positions_per_beat: u16) -> f64 {
        self.quarters() * f64::from(positions_per_beat)
    }

    /// Grid steps in a bar of `meter`, or of 4/4 without one: the one rule that the
    /// vocabulary, the encoder and the decoder share.
    pub(crate) fn bar_steps(meter: Option<&Meter>, positions_per_beat: u16) -> u32 {
        meter.map_or(4 * u32::from(positions_per_beat), |m| m.steps(positions_per_beat) as u32)
    }
}

impl TryFrom<String> for Meter {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let bad = || format!("time signature {text:?} is not \"N/D\" with N in 1..=64 and D a power of two up to 64");
        let (n, d) = text.split_once('/').ok_or_else(bad)?;
        let numerator: u8 = n.trim().parse().map_err(|_| bad())?;
        let denominator: u8 = d.trim().parse().map_err(|_| bad())?;
        if !(1..=64).contains(&numerator) || !denominator.is_power_of_two() || denominator > 64 {
            return Err(bad());
        }
        Ok(Self { numerator, denominator })
    }
}

impl From<Meter> for String {
    fn from(m: Meter) -> String {
        format!("{}/{}", m.numerator, m.denominator)
    }
}

/// `[tokenizer] kind = "midi"` in a config. Every key is optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MidiConfig {
    /// `"remi"` (default) or `"tsd"`.
    pub scheme: Scheme,
    /// Lowest and highest MIDI pitch kept, inclusive (default `[21, 108]`, a piano);
    /// notes outside are dropped.
    pub pitch_range: [u8; 2],
    /// Grid steps per beat (quarter note); onsets and durations are rounded to it (default 8).
    pub positions_per_beat: u16,
    /// Number of velocity levels (default 32); 0 leaves out `Velocity` tokens.
    pub velocity_bins: u8,
    /// Longest duration in beats (default 8); `Duration_d` counts grid steps up to it.
    pub max_duration_beats: u16,
    /// Number of tempo levels (default 32); 0 leaves out `Tempo` tokens.
    pub tempo_bins: u8,
    /// Slowest and fastest tempo in beats per minute (default `[40, 250]`).
    pub tempo_range: [u16; 2],
    /// Time signatures with a `TimeSig` token; others map to the one with the closest bar
    /// length. Empty: no `TimeSig` tokens, every bar 4/4.
    pub time_signatures: Vec<Meter>,
    /// Whether `Program` tokens name the instrument of each note (default true); when
    /// false every note is played by program 0.
    pub programs: bool,
    /// Keep only the highest note where notes overlap (default false).
    pub monophonic: bool,
    /// Most bars in one document (training window); 0 for no limit (default 32).
    pub max_bars: u32,
    /// Most tokens in one document, BOS and EOS included, cut on bar lines; 0 for no
    /// limit (default 0). A single bar longer than this is a document of its own.
    pub max_tokens: u32,
    /// Largest transposition in semitones applied by augmentation (default 0: none).
    pub transpose: u8,
    /// Refuse damaged files (default false). When false, a truncated or malformed track
    /// keeps the events before the damage, with one warning per file.
    pub strict: bool,
}

impl Default for MidiConfig {
    fn default() -> Self {
        let meters = ["2/4", "3/4", "4/4", "5/4", "6/4", "2/2", "3/2", "3/8", "6/8", "9/8", "12/8"];
        Self {
            scheme: Scheme::Remi,
            pitch_range: [21, 108],
            positions_per_beat: 8,
            velocity_bins: 32,
            max_duration_beats: 8,
            tempo_bins: 32,
            tempo_range: [40, 250],
            time_signatures: meters.iter().filter_map(|m| Meter::try_from((*m).to_owned()).ok()).collect(),
            programs: true,
            monophonic: false,
            max_bars: 32,
            max_tokens: 0,
            transpose: 0,
            strict: false,
        }
    }
}

impl MidiConfig {
    /// Checks that the values make a usable vocabulary.
    pub fn validate(&self) -> Result<(), TokenError> {
        let fail = |reason: String| Err(TokenError::Fit { kind: "midi", reason });
        let [lo, hi] = self.pitch_range;
        if lo > hi || hi > 127 {
            return fail(format!("pitch_range [{lo}, {hi}] must be increasing and within 0..=127"));
        }
        if !(1..=64).contains(&self.positions_per_beat) {
            return fail(format!("positions_per_beat {} must be in 1..=64", self.positions_per_beat));
        }
        if self.velocity_bins > 127 {
            return fail(format!("velocity_bins {} must be at most 127", self.velocity_bins));
        }
        let steps = u32::from(self.max_duration_beats) * u32::from(self.positions_per_beat);
        if steps == 0 || steps > 4096 {
            return fail(format!("max_duration_beats × positions_per_beat = {steps} must be in 1..=4096 grid steps"));
        }
        let [slow, fast] = self.tempo_range;
        if self.tempo_bins > 0
            && (slow == 0 || slow >= fast || usize::from(self.tempo_bins) > usize::from(fast - slow) + 1)
        {
            return fail(format!(
                "tempo_range [{slow}, {fast}] must be increasing from 1, with room for {} whole tempos",
                self.tempo_bins
            ));
        }
        for (i, m) in self.time_signatures.iter().enumerate() {
            if self.time_signatures[..i].contains(m) {
                return fail(format!("time signature {} is listed twice", String::from(*m)));
            }
            let steps = m.steps(self.positions_per_beat);
            if steps.fract() != 0.0 || steps < 1.0 {
                return fail(format!(
                    "a bar of {} is not a whole number of grid steps at {} positions per beat",
                    String::from(*m),
                    self.positions_per_beat
                ));
            }
        }
        if self.transpose > 127 {
            return fail(format!("transpose {} must be at most 127", self.transpose));
        }
        Ok(())
    }
}

impl ModalityBuilder for MidiConfig {
    type Modality = MidiTokenizer;

    fn extensions(&self) -> Vec<String> {
        ["mid", "midi"].map(String::from).to_vec()
    }

    /// Nothing is learned from the files: the vocabulary follows from the config.
    fn build(&self, _files: &[PathBuf]) -> Result<MidiTokenizer, TokenError> {
        MidiTokenizer::new(self.clone())
    }
}
