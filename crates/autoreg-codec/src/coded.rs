//! A modality seen through a codec: each run of its value ids becomes codes.

use crate::codec::Codec;
use crate::error::CodecError;
use autoreg_tokens::{
    Classes, Companions, Decoded, Extras, Frames, MergeRule, Modality, Overview, Prompts, Signal, Source, Specials,
    Split, TokenError, Units,
};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The modality `M` with a codec: ids `0..K` are the codes, then `M`'s ids that carry
/// no value (its frame token, classes, then BOS, EOS, PAD), in their order. A document
/// `BOS Label_3 v v v ... EOS` of `M` is `BOS Label_3 c c ... EOS` here, one code per
/// [`Codec::values_per_code`] values; a video's `BOS <frame> v... <frame> v... EOS` is
/// `BOS <frame> c... <frame> c... EOS`, each frame an image's codes (frames need a codec
/// of images, whose signals are whole frames).
#[derive(Clone, Debug)]
pub struct Coded<M> {
    inner: M,
    codec: Codec,
}

impl<M: Modality> Coded<M> {
    /// `inner` through `codec`; an error when `inner` carries no signal, or one of
    /// another shape than the codec's.
    pub fn new(inner: M, codec: Codec) -> Result<Self, CodecError> {
        let kind = inner.kind();
        let signal = inner
            .extras()
            .signal
            .ok_or_else(|| CodecError::Config(format!("a {kind} tokenizer carries no signal for a codec to encode")))?;
        if signal.shape() != codec.shape() {
            return Err(CodecError::Config(format!(
                "the codec encodes signals of {:?}, but this {kind} tokenizer's are {:?}",
                codec.shape(),
                signal.shape()
            )));
        }
        Ok(Self { inner, codec })
    }

    /// The codec.
    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    fn signal(&self) -> &dyn Signal {
        // Checked in `new`.
        self.inner.extras().signal.expect("a coded modality carries a signal")
    }

    /// How many ids of the inner modality are values.
    fn values(&self) -> u32 {
        self.signal().symbols()
    }

    /// The inner id of one of this modality's ids that is not a code.
    fn inner_id(&self, id: u32) -> u32 {
        id - self.codec.codebook_size() + self.values()
    }

    /// This modality's id of an inner id that is not a value.
    fn outer_id(&self, id: u32) -> u32 {
        id - self.values() + self.codec.codebook_size()
    }

    /// Ids of the inner modality in this modality's ids: each run of values becomes
    /// its codes.
    pub fn encode_ids(&self, ids: &[u32]) -> Result<Vec<u32>, CodecError> {
        let values = self.values();
        let mut out = Vec::with_capacity(ids.len() / self.codec.values_per_code() + 8);
        let mut rest = ids;
        while let Some(&first) = rest.first() {
            let run = rest.iter().take_while(|&&id| (id < values) == (first < values)).count();
            if first < values {
                out.extend(self.codec.encode(&self.signal().values(&rest[..run]))?);
            } else {
                out.extend(rest[..run].iter().map(|&id| self.outer_id(id)));
            }
            rest = &rest[run..];
        }
        Ok(out)
    }

    /// This modality's ids in the inner modality's ids: each run of codes becomes the
    /// values it decodes to.
    pub fn decode_ids(&self, ids: &[u32]) -> Result<Vec<u32>, CodecError> {
        let codes = self.codec.codebook_size();
        let mut out = Vec::new();
        let mut rest = ids;
        while let Some(&first) = rest.first() {
            let run = rest.iter().take_while(|&&id| (id < codes) == (first < codes)).count();
            if first < codes {
                out.extend(self.signal().ids(&self.codec.decode(&rest[..run])?));
            } else {
                out.extend(rest[..run].iter().map(|&id| self.inner_id(id)));
            }
            rest = &rest[run..];
        }
        Ok(out)
    }
}

impl<M: Modality> Modality for Coded<M> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn vocab_size(&self) -> usize {
        self.inner.vocab_size() - self.values() as usize + self.codec.codebook_size() as usize
    }

    fn specials(&self) -> Specials {
        Specials::after(self.outer_id(self.inner.specials().bos))
    }

    fn token_name(&self, id: u32) -> Option<String> {
        if id < self.codec.codebook_size() {
            return Some(format!("Code_{id}"));
        }
        (id < self.vocab_size() as u32).then(|| self.inner.token_name(self.inner_id(id))).flatten()
    }

    fn merge_rule(&self) -> MergeRule {
        MergeRule { symbols: self.codec.codebook_size(), bytes: false, default_split: Split::None }
    }

    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        let docs = self.inner.encode(source)?;
        docs.iter().map(|d| self.encode_ids(d).map_err(|e| named(source.name(), e))).collect()
    }

    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        self.inner.decode(&self.decode_ids(ids)?)
    }

    fn extras(&self) -> Extras<'_> {
        let inner = self.inner.extras();
        Extras {
            classes: inner.classes.map(|_| self as &dyn Classes),
            prompts: inner.prompts.map(|_| self as &dyn Prompts),
            companions: inner.companions.map(|_| self as &dyn Companions),
            overview: inner.overview.map(|_| self as &dyn Overview),
            units: inner.units.map(|_| self as &dyn Units),
            inputs: inner.inputs,
            titles: inner.titles,
            frames: inner.frames.filter(|_| self.codec.codes_per_signal().is_some()).map(|_| self as &dyn Frames),
            ..Extras::default()
        }
    }
}

/// A codec's error while encoding the input `name`.
fn named(name: String, e: CodecError) -> TokenError {
    TokenError::format(name, e.to_string())
}

impl<M: Modality> Classes for Coded<M> {
    fn names(&self) -> &[String] {
        self.inner.extras().classes.map_or(&[], |c| c.names())
    }

    fn ids(&self) -> Range<u32> {
        let Some(classes) = self.inner.extras().classes else { return 0..0 };
        let ids = classes.ids();
        self.outer_id(ids.start)..self.outer_id(ids.end)
    }

    fn of_file(&self) -> bool {
        self.inner.extras().classes.is_some_and(|c| c.of_file())
    }

    fn in_every_frame(&self) -> bool {
        self.inner.extras().classes.is_some_and(|c| c.in_every_frame())
    }
}

impl<M: Modality> Prompts for Coded<M> {
    fn unit(&self) -> &'static str {
        self.inner.extras().prompts.map_or("", |p| p.unit())
    }

    fn prompt(&self, source: &Source, length: Option<f64>) -> Result<Vec<u32>, TokenError> {
        let Some(prompts) = self.inner.extras().prompts else { return Ok(Vec::new()) };
        let ids = prompts.prompt(source, length)?;
        self.encode_ids(&ids).map_err(|e| named(source.name(), e))
    }
}

impl<M: Modality> Companions for Coded<M> {
    fn write_companions(&self, ids: &[u32], path: &Path) -> Result<Vec<PathBuf>, TokenError> {
        match self.inner.extras().companions {
            Some(c) => c.write_companions(&self.decode_ids(ids)?, path),
            None => Ok(Vec::new()),
        }
    }
}

impl<M: Modality> Overview for Coded<M> {
    fn write_overview(&self, rows: &[Vec<Vec<u32>>], path: &Path) -> Result<(), TokenError> {
        let Some(overview) = self.inner.extras().overview else { return Ok(()) };
        let rows = rows
            .iter()
            .map(|row| row.iter().map(|ids| self.decode_ids(ids)).collect::<Result<Vec<_>, _>>())
            .collect::<Result<Vec<_>, _>>()?;
        overview.write_overview(&rows, path)
    }
}

impl<M: Modality> Units for Coded<M> {
    fn unit(&self) -> &'static str {
        self.inner.extras().units.map_or("", |u| u.unit())
    }

    /// The inner modality's units in the values the codes stand for: each code counts
    /// for [`Codec::values_per_code`] values (the inner unit must count values, as
    /// audio's samples do).
    fn count(&self, doc: &[u32]) -> usize {
        let codes = doc.iter().filter(|&&id| id < self.codec.codebook_size()).count();
        codes * self.codec.values_per_code()
    }
}

impl<M: Modality> Frames for Coded<M> {
    fn frame_token(&self) -> u32 {
        self.inner.extras().frames.map_or(0, |f| self.outer_id(f.frame_token()))
    }

    /// The inner frame's ids with its image's values as codes.
    fn frame_len(&self) -> usize {
        let inner = self.inner.extras().frames.map_or(0, |f| f.frame_len());
        let codes = self.codec.codes_per_signal().unwrap_or(0);
        inner.saturating_sub(codes * self.codec.values_per_code()) + codes
    }
}
