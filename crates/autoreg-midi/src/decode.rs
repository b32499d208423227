//! Turning tokens back into a [`Score`], leniently (repairing) or strictly.

use crate::config::{Meter, MidiConfig, Scheme};
use crate::grid::MAX_BEATS;
use crate::score::{DRUM_CHANNEL, Note, Score, Tempo, TimeSignature};
use crate::vocab::{DRUMS, Token, Vocab};
use autoreg_tokens::{Specials, TokenError};

/// Velocity of notes when the vocabulary has no `Velocity` tokens.
const DEFAULT_VELOCITY: u8 = 100;

/// Channels for instruments other than drums, in order of first use.
const MELODIC_CHANNELS: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15];

/// Tempo when a sequence sets none, in beats per minute.
const DEFAULT_BPM: f64 = 120.0;

/// Why a token sequence cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A token breaks the grammar (strict decoding) or is outside the vocabulary.
    #[error("token {token} ({name}) at position {position}: {reason}")]
    InvalidToken {
        /// The token id.
        token: u32,
        /// Its index in the sequence.
        position: usize,
        /// Its readable name (`?` outside the vocabulary).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The decoded score could not be written.
    #[error(transparent)]
    Output(#[from] TokenError),
}

impl From<DecodeError> for TokenError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Output(e) => e,
            e @ DecodeError::InvalidToken { .. } => TokenError::format("token sequence", e.to_string()),
        }
    }
}

/// A decoded note on the grid.
struct GridNote {
    step: u32,
    duration: u16,
    pitch: u8,
    /// Velocity level, `None` where the vocabulary has none or it was missing.
    velocity: Option<u8>,
    program: u8,
}

/// A note whose `Velocity` or `Duration` is still to come.
#[derive(Clone, Copy)]
struct Pending {
    step: u32,
    pitch: u8,
    program: u8,
    velocity: Option<u8>,
}

/// The decoder's position in the grammar.
pub(crate) struct Decoder<'a> {
    config: &'a MidiConfig,
    vocab: &'a Vocab,
    strict: bool,
    /// Grammar violations repaired so far.
    pub repairs: usize,
    bar_start: Option<u32>,
    bar_len: u32,
    /// Current step (REMI: `None` until a `Position` in the bar).
    time: Option<u32>,
    program: u8,
    /// Whether the previous token was a `Program`, `Bar` (for strict checks).
    after_program: bool,
    after_bar: bool,
    pending: Option<Pending>,
    notes: Vec<GridNote>,
    tempos: Vec<(u32, u8)>,
    meters: Vec<(u32, u8)>,
}

/// What a token means at this point: applied, or a violation (reason) to repair.
type Step = Result<(), String>;

impl<'a> Decoder<'a> {
    /// A decoder; `strict` stops at the first violation instead of repairing.
    pub fn new(config: &'a MidiConfig, vocab: &'a Vocab, strict: bool) -> Self {
        Self {
            config,
            vocab,
            strict,
            repairs: 0,
            bar_start: None,
            bar_len: Meter::bar_steps(None, config.positions_per_beat),
            time: None,
            program: 0,
            after_program: false,
            after_bar: false,
            pending: None,
            notes: Vec::new(),
            tempos: Vec::new(),
            meters: Vec::new(),
        }
    }

    /// Decodes `tokens` up to the first EOS, skipping specials.
    pub fn run(mut self, tokens: &[u32], specials: Specials) -> Result<(Score, usize), DecodeError> {
        for (position, &id) in tokens.iter().enumerate() {
            if id == specials.eos {
                break;
            }
            if specials.contains(id) {
                continue;
            }
            let invalid = |reason: String| DecodeError::InvalidToken {
                token: id,
                position,
                name: self.vocab.token(id).map_or_else(|| "?".into(), |t| self.vocab.name(t)),
                reason,
            };
            let Some(token) = self.vocab.token(id) else {
                if self.strict {
                    return Err(invalid(format!(
                        "outside the vocabulary of {}",
                        Specials::vocab_after(self.vocab.size as usize)
                    )));
                }
                self.repairs += 1;
                continue;
            };
            if let Err(reason) = self.token(token) {
                if self.strict {
                    return Err(invalid(reason));
                }
                self.repairs += 1;
            }
        }
        if let Some(p) = self.pending.take() {
            if self.strict {
                return Err(DecodeError::InvalidToken {
                    token: specials.eos,
                    position: tokens.len(),
                    name: "end".into(),
                    reason: "the sequence ends inside a note".into(),
                });
            }
            self.finish(p, None);
            self.repairs += 1;
        }
        let repairs = self.repairs;
        Ok((self.score(), repairs))
    }

    /// Applies one token. A violation is repaired as far as it can be (a pending note
    /// is completed with defaults, a stray token skipped) and reported.
    fn token(&mut self, token: Token) -> Step {
        let expects_velocity = !self.vocab.velocities.is_empty();
        if let Some(p) = self.pending {
            let expects_velocity = expects_velocity && p.velocity.is_none();
            match token {
                Token::Velocity(v) if expects_velocity => {
                    self.pending = Some(Pending { velocity: Some(v), ..p });
                    return Ok(());
                }
                Token::Duration(d) if !expects_velocity => {
                    self.pending = None;
                    self.finish(p, Some(d));
                    return Ok(());
                }
                _ => {
                    self.pending = None;
                    self.finish(p, None);
                    let missing = if expects_velocity { "Velocity" } else { "Duration" };
                    if self.apply(token).is_err() {
                        self.repairs += 1;
                    }
                    return Err(format!("expected {missing} after Pitch"));
                }
            }
        }
        if self.after_program && !matches!(token, Token::Pitch(_)) {
            self.after_program = false;
            if self.apply(token).is_err() {
                self.repairs += 1;
            }
            return Err("expected Pitch after Program".into());
        }
        self.apply(token)
    }

    /// Applies a token outside a note.
    fn apply(&mut self, token: Token) -> Step {
        let after_bar = std::mem::replace(&mut self.after_bar, false);
        self.after_program = false;
        let remi = self.config.scheme == Scheme::Remi;
        let limit = (MAX_BEATS * u64::from(self.config.positions_per_beat)) as u32;
        match token {
            Token::Bar => {
                let start = self.bar_start.map_or(0, |s| s + self.bar_len);
                if start > limit {
                    return Err(format!("the piece would be longer than {MAX_BEATS} beats"));
                }
                self.bar_start = Some(start);
                self.time = None;
                self.after_bar = true;
                Ok(())
            }
            Token::TimeSig(m) => {
                let Some(meter) = self.vocab.meters.get(usize::from(m)) else {
                    return Err("no such time signature".into());
                };
                let at = if remi {
                    let at = self.implicit_bar();
                    if self.time.is_some() {
                        return Err("TimeSig inside a bar".into());
                    }
                    self.bar_len = Meter::bar_steps(Some(meter), self.config.positions_per_beat);
                    at
                } else {
                    self.time.unwrap_or(0)
                };
                self.meters.push((at, m));
                if remi && !after_bar { Err("TimeSig not right after Bar".into()) } else { Ok(()) }
            }
            Token::Position(p) => {
                let start = self.implicit_bar();
                let p = u32::from(p);
                if p >= self.bar_len {
                    return Err(format!("position {p} is past the end of a bar of {} steps", self.bar_len));
                }
                let back = self.time.is_some_and(|t| t >= start + p);
                self.time = Some(start + p);
                if back { Err("Position does not move forward".into()) } else { Ok(()) }
            }
            Token::TimeShift(d) => {
                let t = self.time.unwrap_or(0) + u32::from(d);
                if t > limit {
                    return Err(format!("the piece would be longer than {MAX_BEATS} beats"));
                }
                self.time = Some(t);
                Ok(())
            }
            Token::Tempo(level) => {
                let (at, placed) = self.now(remi);
                self.tempos.push((at, level));
                placed
            }
            Token::Program(p) => {
                self.program = p;
                self.after_program = true;
                Ok(())
            }
            Token::Pitch(pitch) => {
                let (step, placed) = self.now(remi);
                self.pending = Some(Pending { step, pitch, program: self.program, velocity: None });
                placed
            }
            Token::Velocity(_) | Token::Duration(_) => Err("not after a Pitch".into()),
        }
    }

    /// The current step; in REMI, an error if no `Position` placed it (the bar start is used).
    fn now(&mut self, remi: bool) -> (u32, Step) {
        match self.time {
            Some(t) => (t, Ok(())),
            None if !remi => (0, Ok(())),
            None => (self.implicit_bar(), Err("no Position in this bar".into())),
        }
    }

    /// The start of the current bar, opening bar 0 if no `Bar` came yet.
    fn implicit_bar(&mut self) -> u32 {
        *self.bar_start.get_or_insert(0)
    }

    fn finish(&mut self, p: Pending, duration: Option<u16>) {
        let default = self.config.positions_per_beat.min(self.vocab.max_steps());
        let duration = duration.unwrap_or(default);
        self.notes.push(GridNote { step: p.step, duration, pitch: p.pitch, velocity: p.velocity, program: p.program });
    }

    /// The decoded score, at a whole number of ticks per grid step near 480 per beat.
    fn score(self) -> Score {
        let ppb = u32::from(self.config.positions_per_beat);
        let per_step = 480u32.div_ceil(ppb);
        let tick = |step: u32| u64::from(step) * u64::from(per_step);
        let mut channels: Vec<u8> = Vec::new();
        let mut notes: Vec<Note> = self
            .notes
            .iter()
            .map(|n| {
                let program = n.program;
                let slot = match channels.iter().position(|&p| p == program) {
                    Some(i) => i,
                    None => {
                        channels.push(program);
                        channels.len() - 1
                    }
                };
                let melodic = channels[..slot].iter().filter(|&&p| p != DRUMS).count();
                let channel = if program == DRUMS { DRUM_CHANNEL } else { MELODIC_CHANNELS[melodic % 15] };
                Note {
                    start: tick(n.step),
                    duration: tick(u32::from(n.duration)),
                    pitch: n.pitch,
                    velocity: n
                        .velocity
                        .and_then(|v| self.vocab.velocities.get(usize::from(v)).copied())
                        .unwrap_or(DEFAULT_VELOCITY),
                    program: if program == DRUMS { 0 } else { program },
                    channel,
                }
            })
            .collect();
        notes.sort_by_key(|n| n.start);
        // What the MIDI writer writes: no pitch struck twice at once on a channel.
        let notes = Score { notes, ..Score::default() }.playable_notes();
        let bpm = |level: u8| self.vocab.tempos.get(usize::from(level)).map_or(DEFAULT_BPM, |&t| f64::from(t));
        let mut tempos: Vec<Tempo> = self
            .tempos
            .iter()
            .map(|&(step, level)| Tempo { tick: tick(step), micros_per_beat: (60e6 / bpm(level)).round() as u32 })
            .collect();
        keep_last_per_tick(&mut tempos, |t| t.tick);
        if tempos.first().is_none_or(|t| t.tick > 0) {
            tempos.insert(0, Tempo { tick: 0, micros_per_beat: (60e6 / DEFAULT_BPM) as u32 });
        }
        let mut time_signatures: Vec<TimeSignature> = self
            .meters
            .iter()
            .filter_map(|&(step, m)| {
                let meter = self.vocab.meters.get(usize::from(m))?;
                Some(TimeSignature { tick: tick(step), numerator: meter.numerator, denominator: meter.denominator })
            })
            .collect();
        keep_last_per_tick(&mut time_signatures, |s| s.tick);
        if time_signatures.first().is_none_or(|s| s.tick > 0) {
            time_signatures.insert(0, TimeSignature { tick: 0, numerator: 4, denominator: 4 });
        }
        Score { ticks_per_beat: (per_step * ppb) as u16, notes, tempos, time_signatures }
    }
}

/// Sorts `changes` by tick (stably) and keeps the last change at each tick.
fn keep_last_per_tick<T>(changes: &mut Vec<T>, tick: impl Fn(&T) -> u64) {
    changes.sort_by_key(&tick);
    changes.reverse();
    changes.dedup_by_key(|c| tick(c));
    changes.reverse();
}
