//! Byte-pair merges over any modality's base ids: an [`IdModel`] learned and applied by
//! Hugging Face's `tokenizers` crate.
//!
//! Base ids become Unicode scalars, as MidiTok does: a modality whose symbols are bytes
//! uses GPT-2's byte-level alphabet (so its merges are a standard byte-level BPE that
//! the Python `tokenizers` package loads and applies with the same ids); any other
//! modality's symbol `i` is the private-use scalar U+F0000 + `i`, outside U+D800-DFFF.
//! Class tokens and specials are never merged: they cut the sequence into words, as the
//! configured [`Split`] does.
//!
//! Words are bounded, so that any input is learned and merged in bounded memory and
//! time (a file of one 52 MB line, one identifier of millions of bytes): a word of
//! GPT-2's longer than 1,024 bytes, and a run between split points longer than 16,384
//! ids, is cut into consecutive pieces that merges do not cross. Python's `tokenizers`
//! merges such a word whole, so it gives the same ids on files without one.

mod alphabet;
mod hf;
mod words;

pub use hf::{byte_level_spelling, hf_tokenizer, spellings};

use alphabet::Alphabet;
use autoreg_tokens::{IdModel, Modality, Split, TokenError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::IsTerminal;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Model, Trainer};
use words::Words;

/// The most copies of one word the trainer is fed at once.
const FEED_BATCH: u64 = 1 << 12;

/// `[tokenizer.bpe]` in a config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BpeConfig {
    /// Ids after merging, base ids included; more than the modality's base vocabulary.
    pub vocab_size: usize,
    /// Pairs seen fewer times than this in the training split are not merged.
    #[serde(default = "default_min_frequency")]
    pub min_frequency: u64,
    /// Where merges stop: `"none"`, `"words"` (GPT-2's byte-level words) or a token
    /// name (`"Bar"`). By default the modality's own rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

fn default_min_frequency() -> u64 {
    2
}

impl BpeConfig {
    /// Checks these options against `base`, before any data is read: the vocabulary
    /// size, and that the split can be made.
    pub fn check(&self, base: &dyn Modality) -> Result<(), TokenError> {
        self.resolve(base).map(|_| ())
    }

    /// The split, and the ids it cuts before.
    fn resolve(&self, base: &dyn Modality) -> Result<(Split, Vec<u32>), TokenError> {
        let fit = |reason: String| TokenError::Fit { kind: "bpe", reason };
        let rule = base.merge_rule();
        if rule.symbols == 0 {
            return Err(fit(format!("[tokenizer.bpe]: the ids of a {} tokenizer do not merge", base.kind())));
        }
        if self.vocab_size <= base.vocab_size() {
            return Err(fit(format!(
                "tokenizer.bpe.vocab_size = {} must be more than the {} base ids of this {} tokenizer",
                self.vocab_size,
                base.vocab_size(),
                base.kind()
            )));
        }
        let split = self.split.clone().unwrap_or(rule.default_split);
        let split_ids = match &split {
            Split::Words if !rule.bytes => {
                return Err(fit(format!(
                    "tokenizer.bpe.split = \"words\" needs a modality whose symbols are bytes, not {}",
                    base.kind()
                )));
            }
            Split::Before(name) => {
                let ids: Vec<u32> =
                    (0..rule.symbols).filter(|&id| base.token_name(id).as_deref() == Some(name.as_str())).collect();
                if ids.is_empty() {
                    return Err(fit(format!(
                        "tokenizer.bpe.split = {name:?}: the {} vocabulary has no token of that name",
                        base.kind()
                    )));
                }
                ids
            }
            _ => Vec::new(),
        };
        Ok((split, split_ids))
    }
}

/// Where a stage's ids come from: its split, and its base vocabulary.
struct Layout {
    split: Split,
    split_ids: Vec<u32>,
    base_vocab: u32,
    symbols: u32,
    bytes: bool,
}

/// A learned BPE stage, saved as its split, the base vocabulary it was learned over,
/// and a standard Hugging Face `tokenizer.json` (`"tokenizer"`) whose ids are autoreg's.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "Saved", into = "Saved")]
pub struct Bpe {
    saved: Saved,
    model: BPE,
    words: Words,
    /// The base ids of every merged id, from `base_vocab` on.
    merged: Vec<Vec<u32>>,
}

/// The saved form of [`Bpe`], checked on load.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    split: Split,
    /// The ids the split cuts before (resolved from a token name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    split_ids: Vec<u32>,
    /// Number of base ids, and of the mergeable ones among them.
    base_vocab: u32,
    symbols: u32,
    bytes: bool,
    /// The Hugging Face tokenizer: byte-level pre-tokenizer and decoder when `bytes`.
    tokenizer: serde_json::Value,
}

impl TryFrom<Saved> for Bpe {
    type Error = String;

    fn try_from(saved: Saved) -> Result<Self, String> {
        let json = saved.tokenizer.to_string();
        let tokenizer: tokenizers::Tokenizer = json.parse().map_err(|e| format!("the BPE tokenizer: {e}"))?;
        let tokenizers::ModelWrapper::BPE(model) = tokenizer.get_model().clone() else {
            return Err("the BPE tokenizer's model is not BPE".into());
        };
        let alphabet = Alphabet::new(saved.bytes, saved.symbols).map_err(|e| e.to_string())?;
        let words = Words::new(alphabet, saved.split.clone(), saved.split_ids.clone(), saved.symbols);
        let mut by_id: Vec<(u32, String)> =
            model.get_vocab().into_iter().filter(|(_, id)| *id >= saved.base_vocab).map(|(s, id)| (id, s)).collect();
        by_id.sort();
        let mut merged = Vec::with_capacity(by_id.len());
        for (k, (id, string)) in by_id.into_iter().enumerate() {
            if id != saved.base_vocab + k as u32 {
                return Err(format!("the BPE vocabulary has a gap before id {id}"));
            }
            let ids = words
                .alphabet
                .ids(&string)
                .ok_or_else(|| format!("merged token {id} ({string:?}) is not made of symbols"))?;
            merged.push(ids);
        }
        Ok(Self { saved, model, words, merged })
    }
}

impl From<Bpe> for Saved {
    fn from(bpe: Bpe) -> Self {
        bpe.saved
    }
}

impl Bpe {
    /// Learns merges over `base` from `docs`, documents of base ids of the training
    /// split, with a progress bar on a terminal.
    pub fn learn<'a>(
        config: &BpeConfig,
        base: &dyn Modality,
        docs: impl Iterator<Item = &'a [u32]>,
    ) -> Result<Self, TokenError> {
        let fit = |reason: String| TokenError::Fit { kind: "bpe", reason };
        let rule = base.merge_rule();
        let base_vocab = base.vocab_size() as u32;
        let (split, split_ids) = config.resolve(base)?;
        let alphabet = Alphabet::new(rule.bytes, rule.symbols)?;
        let words = Words::new(alphabet, split.clone(), split_ids.clone(), rule.symbols);

        // Each distinct word once, with its count: the words of the training split are
        // never all held at once.
        let mut counts: HashMap<String, u64> = HashMap::new();
        for doc in docs {
            words.each(doc, |word| {
                if let Ok(word) = word {
                    *counts.entry(word).or_default() += 1;
                }
            });
        }
        let atoms: Vec<String> = (rule.symbols..base_vocab).map(|id| atom_name(base, id)).collect();
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(config.vocab_size)
            .min_frequency(config.min_frequency)
            .initial_alphabet(words.alphabet.chars().collect())
            .special_tokens(atoms.iter().map(|a| AddedToken::from(a.clone(), true)).collect())
            // The trainer's progress bars draw on a terminal only; elsewhere they print blank lines.
            .show_progress(std::io::stderr().is_terminal())
            .build();
        // The trainer counts the words its callback returns for each sequence it is fed:
        // a word seen n times is fed as sequences `"k word"` of k <= FEED_BATCH copies.
        let batches = counts.iter().flat_map(|(word, &n)| {
            (0..n.div_ceil(FEED_BATCH)).map(move |b| format!("{} {word}", (n - b * FEED_BATCH).min(FEED_BATCH)))
        });
        trainer
            .feed(batches, |batch| {
                let (k, word) = batch.split_once(' ').ok_or("a batch of words without its count")?;
                let k: usize = k.parse()?;
                Ok(vec![word.to_owned(); k])
            })
            .map_err(|e| fit(e.to_string()))?;
        let mut learned = BPE::default();
        trainer.train(&mut learned).map_err(|e| fit(e.to_string()))?;

        // The learned merges, in order, renumbered so that base ids keep their ids and
        // merged ids follow them.
        let merges = learned_merges(&learned).map_err(fit)?;
        let mut vocab = Vocab::new();
        for id in 0..rule.symbols {
            vocab.insert(words.alphabet.string(&[id]), id);
        }
        for (k, atom) in atoms.iter().enumerate() {
            vocab.insert(atom.clone(), rule.symbols + k as u32);
        }
        let mut next = base_vocab;
        for (a, b) in &merges {
            let joined = format!("{a}{b}");
            if let Some(&id) = vocab.get(&joined) {
                if id >= rule.symbols && id < base_vocab {
                    return Err(fit(format!("a merge spells the special token {joined:?}")));
                }
                continue;
            }
            vocab.insert(joined, next);
            next += 1;
        }
        let (learned, asked) = (next - base_vocab, config.vocab_size.saturating_sub(base_vocab as usize));
        if learned == 0 {
            return Err(fit(format!(
                "no merges learned: no pair of ids occurs tokenizer.bpe.min_frequency = {} times in the training split; \
                 lower it, or give more data",
                config.min_frequency
            )));
        }
        if (learned as usize) < asked {
            autoreg_tokens::warn(format!(
                "tokenizer.bpe: learned {learned} merges of the {asked} that vocab_size = {} asks for: no other pair \
                 occurs min_frequency = {} times in the training split; the vocabulary has {} ids",
                config.vocab_size, config.min_frequency, next
            ));
        }
        let layout = Layout { split, split_ids, base_vocab, symbols: rule.symbols, bytes: rule.bytes };
        Self::assemble(layout, vocab, merges, &atoms).map_err(fit)
    }

    /// Takes the merges of a Hugging Face byte-level BPE, such as GPT-2's
    /// `tokenizer.json`, over `base`, a modality whose symbols are the 256 bytes. Ids
    /// are renumbered to autoreg's: bytes by value, then `base`'s atoms (specials), then
    /// the merged tokens in the order of their ids. Returns the stage and, for each of
    /// its ids, the id it had in `json`: the token's own, and for every atom the
    /// tokenizer's one special token (GPT-2's `<|endoftext|>`); and the number of ids
    /// of `json`.
    pub fn import_hf(json: &str, base: &dyn Modality) -> Result<(Self, Vec<u32>, usize), String> {
        let rule = base.merge_rule();
        if !(rule.bytes && rule.symbols == 256) {
            return Err(format!("a byte-level BPE goes over bytes, not the ids of a {} tokenizer", base.kind()));
        }
        let tokenizer: tokenizers::Tokenizer = json.parse().map_err(|e| format!("not a tokenizer.json: {e}"))?;
        let tokenizers::ModelWrapper::BPE(model) = tokenizer.get_model() else {
            return Err("its model is not BPE (`model.type`)".into());
        };
        let byte_level = matches!(tokenizer.get_pre_tokenizer(), Some(tokenizers::PreTokenizerWrapper::ByteLevel(_)));
        if !byte_level {
            return Err("its `pre_tokenizer` is not ByteLevel: only byte-level BPE (GPT-2's) can be imported".into());
        }
        let alphabet = Alphabet::new(true, 256).map_err(|e| e.to_string())?;
        let mut specials: Vec<(String, u32)> = tokenizer
            .get_added_tokens_decoder()
            .iter()
            .filter(|(_, t)| alphabet.ids(&t.content).is_none_or(|ids| ids.len() != 1))
            .map(|(&id, t)| (t.content.clone(), id))
            .collect();
        specials.sort_by_key(|&(_, id)| id);
        let [(_, end_of_text)] = specials[..] else {
            let names: Vec<&str> = specials.iter().map(|(s, _)| s.as_str()).collect();
            return Err(format!(
                "it must have exactly one added token, the end of text (GPT-2's <|endoftext|>), which autoreg's                  <bos>, <eos> and <pad> become; it has {}: {names:?}",
                names.len()
            ));
        };
        let mut bytes = vec![None; 256];
        let mut merged = Vec::new();
        for (string, id) in model.get_vocab() {
            match alphabet.ids(&string).as_deref() {
                _ if id == end_of_text => {}
                Some(&[byte]) => bytes[byte as usize] = Some(id),
                Some(_) => merged.push((id, string)),
                None => return Err(format!("token {id} ({string:?}) is not made of GPT-2's byte-level symbols")),
            }
        }
        if let Some(byte) = bytes.iter().position(Option::is_none) {
            return Err(format!("its vocabulary lacks the byte 0x{byte:02x}: a byte-level BPE holds all 256"));
        }
        merged.sort();
        let base_vocab = base.vocab_size() as u32;
        let atoms: Vec<String> = (256..base_vocab).map(|id| atom_name(base, id)).collect();
        let mut vocab = Vocab::new();
        let mut source: Vec<u32> = bytes.into_iter().flatten().collect();
        for id in 0..256 {
            vocab.insert(alphabet.string(&[id]), id);
        }
        for (k, atom) in atoms.iter().enumerate() {
            vocab.insert(atom.clone(), 256 + k as u32);
            source.push(end_of_text);
        }
        for (k, (id, string)) in merged.into_iter().enumerate() {
            vocab.insert(string, base_vocab + k as u32);
            source.push(id);
        }
        let merges = learned_merges(model)?;
        let (split, split_ids) = (rule.default_split, Vec::new());
        let layout = Layout { split, split_ids, base_vocab, symbols: 256, bytes: true };
        Ok((Self::assemble(layout, vocab, merges, &atoms)?, source, tokenizer.get_vocab_size(true)))
    }

    /// The stage of `vocab` and `merges` (autoreg's ids), with `atoms` as special tokens
    /// and, over bytes, GPT-2's byte-level pre-tokenizer and decoder.
    fn assemble(layout: Layout, vocab: Vocab, merges: Vec<(String, String)>, atoms: &[String]) -> Result<Self, String> {
        let model = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|e| e.to_string())?;
        let mut hf = tokenizers::Tokenizer::new(model);
        if layout.bytes {
            hf.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
            hf.with_decoder(Some(ByteLevel::new(false, true, true)));
        }
        hf.add_special_tokens(atoms.iter().map(|a| AddedToken::from(a.clone(), true))).map_err(|e| e.to_string())?;
        let json = hf.to_string(false).map_err(|e| e.to_string())?;
        let tokenizer = serde_json::from_str(&json).map_err(|e| e.to_string())?;
        let Layout { split, split_ids, base_vocab, symbols, bytes } = layout;
        Self::try_from(Saved { split, split_ids, base_vocab, symbols, bytes, tokenizer })
    }

    /// Checks that this stage was learned over `base`'s vocabulary.
    pub fn check_base(&self, base: &dyn Modality) -> Result<(), String> {
        let rule = base.merge_rule();
        if (self.saved.base_vocab as usize, self.saved.symbols, self.saved.bytes)
            != (base.vocab_size(), rule.symbols, rule.bytes)
        {
            return Err(format!(
                "the BPE stage was learned over {} base ids ({} symbols), but the {} tokenizer has {} ({})",
                self.saved.base_vocab,
                self.saved.symbols,
                base.kind(),
                base.vocab_size(),
                rule.symbols
            ));
        }
        Ok(())
    }

    /// The split its merges follow.
    pub fn split(&self) -> &Split {
        &self.saved.split
    }

    /// The Hugging Face `tokenizer.json` of its merges.
    pub fn hf_json(&self) -> &serde_json::Value {
        &self.saved.tokenizer
    }
}

/// The name a class token or special has in the Hugging Face vocabulary.
fn atom_name(base: &dyn Modality, id: u32) -> String {
    base.token_name(id).unwrap_or_else(|| format!("<{id}>"))
}

/// The merges of a trained model, in the order they were learned.
fn learned_merges(model: &BPE) -> Result<Vec<(String, String)>, String> {
    let json = serde_json::to_value(model).map_err(|e| e.to_string())?;
    let merges = json.get("merges").cloned().ok_or("the trained BPE model holds no merges")?;
    serde_json::from_value(merges).map_err(|e| format!("the learned merges: {e}"))
}

impl IdModel for Bpe {
    fn vocab_size(&self) -> usize {
        self.saved.base_vocab as usize + self.merged.len()
    }

    fn is_identity(&self) -> bool {
        false
    }

    fn merge(&self, base: &[u32]) -> Vec<u32> {
        let mut out = Vec::with_capacity(base.len());
        self.words.each(base, |word| match word {
            Ok(word) => match self.model.tokenize(&word) {
                Ok(tokens) => out.extend(tokens.iter().map(|t| t.id)),
                // Every symbol is in the vocabulary, so tokenizing cannot fail; should it,
                // the symbols themselves are kept.
                Err(_) => out.extend(self.words.alphabet.ids(&word).unwrap_or_default()),
            },
            Err(atom) => out.push(atom),
        });
        out
    }

    fn expand(&self, id: u32, out: &mut Vec<u32>) -> bool {
        if id < self.saved.base_vocab {
            out.push(id);
            return true;
        }
        match self.merged.get((id - self.saved.base_vocab) as usize) {
            Some(ids) => {
                out.extend_from_slice(ids);
                true
            }
            None => false,
        }
    }
}
