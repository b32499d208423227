//! [`MidiTokenizer`]: the [`Tokenizer`] for Standard MIDI Files.

use crate::config::MidiConfig;
use crate::config::Scheme;
use crate::decode::{DecodeError, Decoder};
use crate::encode::Encoder;
use crate::grid::Grid;
use crate::render::{render_piano_roll, render_preview_wav};
use crate::score::Score;
use crate::vocab::{DRUMS, Token, Vocab};
use autoreg_tokens::{
    Augment, Companions, Decoded, Extras, MergeRule, Modality, Prompts, Source, Spans, Specials, Split, Titles,
    TokenError, Units, marker_boundaries,
};
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// A MIDI tokenizer (REMI or TSD). Its vocabulary follows from its [`MidiConfig`];
/// saved as `{"config": {...}, "vocab": ["Bar", "Position_0", ...]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "MidiTokenizerRepr", into = "MidiTokenizerRepr")]
pub struct MidiTokenizer {
    config: MidiConfig,
    vocab: Vocab,
}

/// The saved form of [`MidiTokenizer`]: the vocabulary is checked against the config on load.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MidiTokenizerRepr {
    config: MidiConfig,
    vocab: Vec<String>,
}

impl TryFrom<MidiTokenizerRepr> for MidiTokenizer {
    type Error = String;

    fn try_from(repr: MidiTokenizerRepr) -> Result<Self, String> {
        let tokenizer = Self::new(repr.config).map_err(|e| e.to_string())?;
        let current = names(&tokenizer.vocab);
        if current != repr.vocab && names(&tokenizer.vocab.with_former_tempos(&tokenizer.config)) != repr.vocab {
            let at = current
                .iter()
                .zip(&repr.vocab)
                .position(|(a, b)| a != b)
                .unwrap_or(current.len().min(repr.vocab.len()));
            return Err(format!(
                "the saved vocabulary ({} tokens) differs from the config's ({} tokens) at token {at}",
                repr.vocab.len(),
                current.len()
            ));
        }
        Ok(tokenizer)
    }
}

/// The names of the ordinary tokens of `vocab`, by id.
fn names(vocab: &Vocab) -> Vec<String> {
    (0..vocab.size).filter_map(|id| vocab.token(id).map(|t| vocab.name(t))).collect()
}

impl From<MidiTokenizer> for MidiTokenizerRepr {
    fn from(t: MidiTokenizer) -> Self {
        Self { vocab: names(&t.vocab), config: t.config }
    }
}

/// A decoded token sequence: the MIDI file and what it took to make it.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeReport {
    /// The Standard MIDI File.
    pub midi: Vec<u8>,
    /// The decoded notes and maps.
    pub score: Score,
    /// How many grammar violations were repaired (0 for a well-formed sequence).
    pub repairs: usize,
}

impl MidiTokenizer {
    /// The tokenizer for `config`, after checking it.
    pub fn new(config: MidiConfig) -> Result<Self, TokenError> {
        config.validate()?;
        let vocab = Vocab::new(&config);
        Ok(Self { config, vocab })
    }

    /// Its configuration.
    pub fn config(&self) -> &MidiConfig {
        &self.config
    }

    /// Encodes a score into documents, each `BOS ... EOS` (see [`Modality::encode`]).
    pub fn encode_score(&self, score: &Score, name: &str) -> Result<Vec<Vec<u32>>, TokenError> {
        let grid = Grid::new(score, &self.config, &self.vocab, name)?;
        Ok(self.encoder().documents(&grid))
    }

    /// Reads a MIDI file, strictly if the config says so; otherwise what a damaged file
    /// lost is logged as one warning naming the file.
    fn read(&self, bytes: &[u8], name: &str) -> Result<Score, TokenError> {
        let (score, damage) = Score::read_midi(bytes, name, self.config.strict)?;
        if let Some(damage) = damage {
            autoreg_tokens::warn(format!("{name}: {damage}"));
        }
        Ok(score)
    }

    /// Decodes leniently: tokens that break the grammar, or that are outside the
    /// vocabulary, are skipped or completed (a `Pitch` without `Duration` lasts a beat)
    /// and counted.
    pub fn decode_report(&self, tokens: &[u32]) -> Result<DecodeReport, TokenError> {
        let (score, repairs) = Decoder::new(&self.config, &self.vocab, false).run(tokens, self.specials())?;
        Ok(DecodeReport { midi: score.to_midi()?, score, repairs })
    }

    /// Decodes strictly: the first token that breaks the grammar is an error naming it
    /// and its position.
    pub fn decode_strict(&self, tokens: &[u32]) -> Result<Vec<u8>, DecodeError> {
        let (score, _) = Decoder::new(&self.config, &self.vocab, true).run(tokens, self.specials())?;
        Ok(score.to_midi()?)
    }

    /// Whether the note of the `Pitch` that starts `window` is known not to be a drum:
    /// the next note of its document has no `Program` before it, so it has the same
    /// instrument and is not a drum either.
    fn starts_pitched(&self, window: &[u32]) -> bool {
        let specials = self.specials();
        for (i, &id) in window.iter().enumerate().skip(1) {
            match self.vocab.token(id) {
                _ if specials.contains(id) => return false,
                Some(Token::Pitch(_)) => return !matches!(self.vocab.token(window[i - 1]), Some(Token::Program(_))),
                _ => {}
            }
        }
        false
    }

    fn encoder(&self) -> Encoder<'_> {
        Encoder::new(&self.config, &self.vocab, self.specials())
    }
}

impl Modality for MidiTokenizer {
    fn kind(&self) -> &'static str {
        "midi"
    }

    fn vocab_size(&self) -> usize {
        Specials::vocab_after(self.vocab.size as usize)
    }

    fn specials(&self) -> Specials {
        Specials::after(self.vocab.size)
    }

    fn token_name(&self, token: u32) -> Option<String> {
        match self.specials().name(token) {
            Some(name) => Some(name.to_owned()),
            None => self.vocab.token(token).map(|t| self.vocab.name(t)),
        }
    }

    /// REMI merges never cross a bar line (MidiTok's rule); TSD's merge freely.
    fn merge_rule(&self) -> MergeRule {
        let default_split = match self.config.scheme {
            Scheme::Remi => Split::Before("Bar".into()),
            Scheme::Tsd => Split::None,
        };
        MergeRule { symbols: self.vocab.size, bytes: false, default_split }
    }

    /// Splits the piece on bar lines into documents of at most `max_bars` bars and
    /// `max_tokens` tokens; documents without notes are left out. A damaged file keeps
    /// what comes before the damage, with a warning, unless the config is `strict`.
    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        let name = source.name();
        self.encode_score(&self.read(source.bytes, &name)?, &name)
    }

    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        let report = self.decode_report(ids)?;
        Ok(Decoded { bytes: report.midi, extension: "mid".into(), repairs: report.repairs, printable: false })
    }

    fn extras(&self) -> Extras<'_> {
        Extras {
            prompts: Some(self),
            companions: Some(self),
            augment: (self.config.transpose > 0).then_some(self as &dyn Augment),
            units: Some(self),
            titles: Some(self),
            spans: self.vocab.id(Token::Bar).map(|_| self as &dyn Spans),
            ..Extras::default()
        }
    }
}

/// Fill in the middle cuts REMI on bars: each starts at its `Bar`.
impl Spans for MidiTokenizer {
    fn unit(&self) -> &'static str {
        "bar"
    }

    fn boundaries(&self, ids: &[u32]) -> Vec<RangeInclusive<usize>> {
        match self.vocab.id(Token::Bar) {
            Some(bar) => marker_boundaries(ids, bar, self.specials().eos),
            None => Vec::new(),
        }
    }
}

impl Titles for MidiTokenizer {
    /// The first track name that is not blank.
    fn title(&self, source: &Source) -> Result<Option<String>, TokenError> {
        Ok(crate::read::track_name(source.bytes))
    }
}

impl Prompts for MidiTokenizer {
    fn unit(&self) -> &'static str {
        "bars"
    }

    /// The whole piece as one document, or its first `length` bars. Either way the
    /// prompt ends at a bar line (REMI: with the `Bar` of the next bar), so that what
    /// follows starts a new bar and cannot change the prompt's notes.
    fn prompt(&self, source: &Source, length: Option<f64>) -> Result<Vec<u32>, TokenError> {
        let name = source.name();
        let grid = Grid::new(&self.read(source.bytes, &name)?, &self.config, &self.vocab, &name)?;
        let bars = match length {
            None => grid.bars.len(),
            Some(n) if n >= 1.0 && n.fract() == 0.0 => grid.bars.len().min(n as usize),
            Some(n) => {
                return Err(TokenError::format(name, format!("a prompt of {n} bars: give a whole number from 1")));
            }
        };
        self.encoder()
            .prompt(&grid, bars)
            .ok_or_else(|| TokenError::format(name, format!("the first {bars} bars hold no notes in the pitch range")))
    }
}

impl Companions for MidiTokenizer {
    /// A piano roll (`.png`) and an audio preview (`.wav`) beside `path`.
    fn write_companions(&self, ids: &[u32], path: &Path) -> Result<Vec<PathBuf>, TokenError> {
        let score = self.decode_report(ids)?.score;
        let (png, wav) = (path.with_extension("png"), path.with_extension("wav"));
        render_piano_roll(&score, &png)?;
        render_preview_wav(&score, &wav)?;
        Ok(vec![png, wav])
    }
}

impl Augment for MidiTokenizer {
    /// Transposes every `Pitch` (drums excepted) by up to `transpose` semitones, the
    /// shift chosen by `draw` and reduced so that every pitch stays in the range.
    ///
    /// The encoder writes `Program_-1` right before every drum note and before no other
    /// note, so each `Pitch` tells by the token before it whether it is a drum, wherever
    /// the window starts. A window that starts on a `Pitch` whose kind the
    /// window cannot tell is left unchanged. With `programs = false` every note is
    /// pitched, drums included.
    fn augment(&self, window: &mut [u32], draw: u64) {
        let t = i64::from(self.config.transpose);
        let wanted = (draw % (2 * t as u64 + 1)) as i64 - t;
        if wanted == 0 {
            return;
        }
        let mut pitched = Vec::new();
        for (i, &id) in window.iter().enumerate() {
            let Some(Token::Pitch(p)) = self.vocab.token(id) else { continue };
            let drum = match i.checked_sub(1) {
                Some(before) => self.vocab.token(window[before]) == Some(Token::Program(DRUMS)),
                None if self.starts_pitched(window) => false,
                None => return,
            };
            if !drum {
                pitched.push((i, i64::from(p)));
            }
        }
        let [lo, hi] = self.config.pitch_range.map(i64::from);
        let (Some(min), Some(max)) = (pitched.iter().map(|p| p.1).min(), pitched.iter().map(|p| p.1).max()) else {
            return;
        };
        let shift = wanted.clamp((lo - min).min(0), (hi - max).max(0));
        for (i, p) in pitched {
            if let Some(id) = self.vocab.id(Token::Pitch((p + shift) as u8)) {
                window[i] = id;
            }
        }
    }
}

impl Units for MidiTokenizer {
    fn unit(&self) -> &'static str {
        "note"
    }

    fn count(&self, doc: &[u32]) -> usize {
        doc.iter().filter(|&&id| matches!(self.vocab.token(id), Some(Token::Pitch(_)))).count()
    }
}
