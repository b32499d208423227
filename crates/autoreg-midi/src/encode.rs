//! Turning a [`Grid`] into documents of REMI or TSD tokens.

use crate::config::{MidiConfig, Scheme};
use crate::grid::{BarLine, Grid};
use crate::vocab::{DRUMS, Token, Vocab};
use autoreg_tokens::Specials;

/// What the tokens written so far in a document have set.
#[derive(Clone, Copy, Debug)]
struct State {
    meter: Option<u8>,
    tempo: Option<u8>,
    program: u8,
    /// TSD: the step the time shifts have reached.
    time: u32,
}

impl State {
    fn at(time: u32) -> Self {
        Self { meter: None, tempo: None, program: 0, time }
    }
}

/// Encodes bars into documents, splitting on bar lines.
pub(crate) struct Encoder<'a> {
    config: &'a MidiConfig,
    vocab: &'a Vocab,
    specials: Specials,
}

/// A document being written.
struct Doc {
    tokens: Vec<u32>,
    state: State,
    bars: u32,
    /// Length and state after the last bar with a note: trailing empty bars are dropped.
    kept: Option<(usize, State)>,
}

impl<'a> Encoder<'a> {
    /// An encoder for `config`, whose vocabulary is `vocab`.
    pub fn new(config: &'a MidiConfig, vocab: &'a Vocab, specials: Specials) -> Self {
        Self { config, vocab, specials }
    }

    /// The documents of `grid`, each `BOS ... EOS`, split after `max_bars` bars or
    /// before going over `max_tokens`; documents without notes are left out.
    pub fn documents(&self, grid: &Grid) -> Vec<Vec<u32>> {
        let mut docs = Vec::new();
        let last = self.write(grid, grid.bars.len(), Some(&mut docs));
        docs.extend(last.and_then(|d| self.close(d)));
        docs
    }

    /// The first `bars` bars of `grid` (at least one) as one document without EOS,
    /// empty bars included, ending at the bar line after them: REMI with the `Bar` that
    /// starts the next bar, TSD with the time shifts up to it. `None` if it holds no note.
    pub fn prompt(&self, grid: &Grid, bars: usize) -> Option<Vec<u32>> {
        let mut doc = self.write(grid, bars, None)?;
        doc.kept?;
        let end = grid.bars[..bars].last().map(|b| b.start + b.len)?;
        if self.config.scheme == Scheme::Remi {
            self.push(&mut doc, Token::Bar);
        } else {
            self.shift_to(&mut doc, end);
        }
        Some(doc.tokens)
    }

    /// Writes the first `bars` bars of `grid`. With `split`, full documents are closed
    /// into it; returns the document still open.
    fn write(&self, grid: &Grid, bars: usize, mut split: Option<&mut Vec<Vec<u32>>>) -> Option<Doc> {
        let mut doc: Option<Doc> = None;
        let (mut note, mut tempo) = (0usize, 0usize);
        let (max_bars, limit) = (self.config.max_bars, self.config.max_tokens as usize);
        for bar in &grid.bars[..bars] {
            while grid.notes.get(note).is_some_and(|n| n.step < bar.start) {
                note += 1;
            }
            while grid.tempos.get(tempo + 1).is_some_and(|t| t.0 <= bar.start) {
                tempo += 1;
            }
            if let Some(docs) = split.as_deref_mut()
                && let Some(d) = doc.take_if(|d| max_bars > 0 && d.bars >= max_bars)
            {
                docs.extend(self.close(d));
            }
            let d = doc.get_or_insert_with(|| self.open(bar.start));
            let (len, state) = (d.tokens.len(), d.state);
            let has_notes = self.bar(d, grid, bar, note, tempo);
            if let Some(docs) = split.as_deref_mut()
                && limit > 0
                && d.tokens.len() + 1 > limit
                && d.bars > 0
            {
                d.tokens.truncate(len);
                d.state = state;
                docs.extend(doc.take().and_then(|d| self.close(d)));
                let d = doc.insert(self.open(bar.start));
                self.bar(d, grid, bar, note, tempo);
                d.kept = has_notes.then_some((d.tokens.len(), d.state));
                d.bars = 1;
                continue;
            }
            if has_notes {
                d.kept = Some((d.tokens.len(), d.state));
            }
            d.bars += 1;
        }
        doc
    }

    fn open(&self, start: u32) -> Doc {
        Doc { tokens: vec![self.specials.bos], state: State::at(start), bars: 0, kept: None }
    }

    /// The finished document, or `None` if it holds no note.
    fn close(&self, mut doc: Doc) -> Option<Vec<u32>> {
        let (len, _) = doc.kept?;
        doc.tokens.truncate(len);
        doc.tokens.push(self.specials.eos);
        Some(doc.tokens)
    }

    /// Writes one bar; `note` and `tempo` index the first note and the tempo in effect
    /// at its start. Returns whether the bar holds a note.
    fn bar(&self, doc: &mut Doc, grid: &Grid, bar: &BarLine, note: usize, tempo: usize) -> bool {
        let end = bar.start + bar.len;
        let remi = self.config.scheme == Scheme::Remi;
        if remi {
            self.push(doc, Token::Bar);
        }
        let meter_changed = bar.meter.is_some() && bar.meter != doc.state.meter;
        let notes = grid.notes[note..].iter().take_while(|n| n.step < end);
        let mut tempos: Vec<(u32, u8)> = grid.tempos[tempo.min(grid.tempos.len())..]
            .iter()
            .copied()
            .skip_while(|t| t.0 < bar.start)
            .take_while(|t| t.0 < end)
            .collect();
        if doc.state.tempo.is_none()
            && let Some(&(_, level)) = grid.tempos.get(tempo)
            && tempos.first().is_none_or(|t| t.0 > bar.start)
        {
            tempos.insert(0, (bar.start, level));
        }
        let mut events: Vec<u32> = tempos.iter().map(|t| t.0).chain(notes.clone().map(|n| n.step)).collect();
        events.sort_unstable();
        events.dedup();
        if meter_changed && !remi {
            self.shift_to(doc, bar.start);
        }
        if let Some(meter) = bar.meter.filter(|_| meter_changed) {
            self.push(doc, Token::TimeSig(meter));
            doc.state.meter = Some(meter);
        }
        let mut has_notes = false;
        for step in events {
            if remi {
                self.push(doc, Token::Position((step - bar.start) as u16));
            } else {
                self.shift_to(doc, step);
            }
            if let Some(&(_, level)) = tempos.iter().find(|t| t.0 == step)
                && doc.state.tempo != Some(level)
            {
                self.push(doc, Token::Tempo(level));
                doc.state.tempo = Some(level);
            }
            for n in notes.clone().filter(|n| n.step == step) {
                // Every drum note has its `Program`, so that any window of tokens tells
                // drums from pitched notes (see `MidiTokenizer::augment`).
                if n.program != doc.state.program || n.program == DRUMS {
                    self.push(doc, Token::Program(n.program));
                    doc.state.program = n.program;
                }
                self.push(doc, Token::Pitch(n.pitch));
                if !self.vocab.velocities.is_empty() {
                    self.push(doc, Token::Velocity(n.velocity));
                }
                self.push(doc, Token::Duration(n.duration));
                has_notes = true;
            }
        }
        has_notes
    }

    /// TSD: time shifts from the document's time to `step`.
    fn shift_to(&self, doc: &mut Doc, step: u32) {
        let max = u32::from(self.vocab.max_steps());
        while doc.state.time < step {
            let shift = (step - doc.state.time).min(max);
            self.push(doc, Token::TimeShift(shift as u16));
            doc.state.time += shift;
        }
    }

    fn push(&self, doc: &mut Doc, token: Token) {
        doc.tokens.extend(self.vocab.id(token));
    }
}
