//! `[data]`: where the files are, how they are split and how windows are cut.

use autoreg_tokens::FimRates;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How documents are divided between training and validation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitMode {
    /// Whole documents, shuffled by the seed: `val_fraction` of them validate.
    #[default]
    Documents,
    /// The last `val_fraction` of every document validates (nanoGPT's split of one file).
    Tail,
    /// Whole files, with all their documents: those whose name matches the glob
    /// `val_files` validate (an upstream split), or without it `val_fraction` of the
    /// files, shuffled by the seed.
    Files,
}

/// How training windows are cut from a split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Windows {
    /// Anywhere in the documents laid end to end (nanoGPT): for text and music.
    #[default]
    Stream,
    /// Inside one document, which keeps its prefix (BOS, class) in front; a short
    /// document is padded. For images and labelled recordings.
    Documents,
    /// Inside one document, from a frame's start: `data.context_frames + 1` whole
    /// frames. For video; sampling slides its context by whole frames alike.
    Frames,
}

/// `[data]`: where the files are and how to split them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// A file or a folder (searched recursively), relative to the data root.
    pub path: PathBuf,
    /// The data root. Unset: `$AUTOREG_DATA`, else `datasets/`.
    pub root: Option<PathBuf>,
    /// `"documents"`, `"tail"` or `"files"`.
    pub split: SplitMode,
    /// Share of documents (or of each document, with `split = "tail"`) that validates.
    pub val_fraction: f64,
    /// With `split = "files"`: a glob on file names that picks the validation files,
    /// e.g. `"*_[0-4].wav"`.
    pub val_files: Option<String>,
    /// `"stream"`, `"documents"` or `"frames"`: how training windows are cut.
    pub windows: Windows,
    /// With `windows = "frames"`: the whole frames a window keeps before the current
    /// one (required there, at least 1).
    pub context_frames: Option<usize>,
    /// Where tokenized data is cached. Unset: the user's cache folder (`~/.cache/autoreg`).
    pub cache_dir: Option<PathBuf>,
    /// Tokens per shard of the cache (at least this many, ending after a whole file);
    /// tokenizing that is stopped resumes at the first shard not written.
    pub shard_tokens: u64,
    /// Learned stages (BPE merges, a codec) learn on at most this many tokens of the
    /// training split: whole documents drawn by the seed, the last one cut.
    pub learn_tokens: u64,
    /// Fill in the middle: the chance that a training window's document is cut at two of
    /// its units (lines, bars, rows) and rearranged behind sentinel tokens, so that the
    /// model learns to infill; 0 (the default) is off. 0.5 is the usual rate.
    pub fim_rate: f64,
    /// The chance that a rearranged document is in SPM order (suffix, then prefix and
    /// middle) rather than PSM (prefix, suffix, middle).
    pub fim_spm: f64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::new(),
            root: None,
            split: SplitMode::Documents,
            val_fraction: 0.1,
            val_files: None,
            windows: Windows::Stream,
            context_frames: None,
            cache_dir: None,
            shard_tokens: 1 << 27,
            learn_tokens: 100_000_000,
            fim_rate: 0.0,
            fim_spm: 0.5,
        }
    }
}

impl DataConfig {
    /// The rates of fill in the middle, when `fim_rate` turns it on.
    pub fn fim(&self) -> Option<FimRates> {
        (self.fim_rate > 0.0).then_some(FimRates { rate: self.fim_rate, spm: self.fim_spm })
    }

    /// Checks `val_fraction` (a finite share in (0, 1), unless a `val_files` glob
    /// picks the validation files); the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        match (self.windows, self.context_frames) {
            (Windows::Frames, None) => return Err("data.windows = \"frames\" needs data.context_frames".into()),
            (Windows::Frames, Some(0)) => return Err("data.context_frames must be at least 1".into()),
            (Windows::Stream | Windows::Documents, Some(_)) => {
                return Err("data.context_frames is for windows = \"frames\" only".into());
            }
            _ => {}
        }
        if self.shard_tokens == 0 {
            return Err("data.shard_tokens must be at least 1".into());
        }
        if self.learn_tokens == 0 {
            return Err("data.learn_tokens must be at least 1".into());
        }
        for (key, rate) in [("fim_rate", self.fim_rate), ("fim_spm", self.fim_spm)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("data.{key} must be in [0, 1], got {rate}"));
            }
        }
        if self.split == SplitMode::Files && self.val_files.is_some() {
            return Ok(());
        }
        let v = self.val_fraction;
        if v > 0.0 && v < 1.0 { Ok(()) } else { Err(format!("data.val_fraction must be in (0, 1), got {v}")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn val_fraction_must_be_a_share_unless_a_glob_picks_validation_files() {
        let bad = DataConfig { val_fraction: f64::NAN, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err(), "data.val_fraction must be in (0, 1), got NaN");
        let glob = DataConfig { split: SplitMode::Files, val_files: Some("*_0.wav".into()), ..bad };
        assert_eq!(glob.validate(), Ok(()));
    }

    #[test]
    fn fim_rates_are_chances() {
        let bad = DataConfig { fim_rate: 1.5, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err(), "data.fim_rate must be in [0, 1], got 1.5");
        let bad = DataConfig { fim_spm: f64::NAN, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err(), "data.fim_spm must be in [0, 1], got NaN");
        assert_eq!(DataConfig { fim_rate: 0.5, fim_spm: 0.0, ..Default::default() }.validate(), Ok(()));
    }

    #[test]
    fn frame_windows_need_a_context_of_frames() {
        let frames = DataConfig { windows: Windows::Frames, ..Default::default() };
        assert!(frames.validate().unwrap_err().contains("needs data.context_frames"));
        let none = DataConfig { context_frames: Some(0), ..frames.clone() };
        assert!(none.validate().unwrap_err().contains("at least 1"));
        assert_eq!(DataConfig { context_frames: Some(2), ..frames }.validate(), Ok(()));
        let stray = DataConfig { context_frames: Some(2), ..Default::default() };
        assert!(stray.validate().unwrap_err().contains("frames\" only"));
    }
}
