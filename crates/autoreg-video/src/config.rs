use crate::tokenizer::VideoTokenizer;
use autoreg_pixels::PixelsConfig;
use autoreg_tokens::{LabelPattern, ModalityBuilder, TokenError};
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// Frames a clip may keep.
pub(crate) const FRAMES: RangeInclusive<usize> = 1..=4096;
/// Milliseconds each decoded frame shows, allowed.
pub(crate) const DELAYS: RangeInclusive<u32> = 10..=60_000;

/// `[tokenizer] kind = "video"` in a config, with each frame's settings in
/// `[tokenizer.frame]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoConfig {
    /// How each frame becomes tokens: the pixels tokenizer's settings (`width`,
    /// `height`, `levels`, `colors`, `scale`...), fitted on the clips' first frames.
    /// `conditional` is not for video.
    pub frame: PixelsConfig,
    /// The frames kept of each clip, its first, 1 to 4096 (default 4096).
    pub max_frames: usize,
    /// Milliseconds each frame of a decoded GIF shows, 10 to 60,000 (default 100).
    pub delay_ms: u32,
    /// Put a class token after BOS and after every frame token (default `false`): the
    /// clip's label, which its name gives by `label_pattern`. Classes are learned at fit
    /// time.
    pub conditional: bool,
    /// With `conditional`, the template of a clip's name that holds its label (see
    /// `autoreg_tokens::LabelPattern`), matched against a GIF's file name or the folder
    /// name of PNG frames (default `"{label}_{_}"`: `3_0042.gif` is a 3).
    pub label_pattern: String,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            frame: PixelsConfig::default(),
            max_frames: *FRAMES.end(),
            delay_ms: 100,
            conditional: false,
            label_pattern: "{label}_{_}".into(),
        }
    }
}

impl VideoConfig {
    /// Checks the video's own settings; the reason names the key. The label pattern,
    /// compiled.
    pub(crate) fn validate(&self) -> Result<LabelPattern, String> {
        if self.frame.conditional {
            return Err("tokenizer.frame.conditional: a video's classes are `tokenizer.conditional`".into());
        }
        if !FRAMES.contains(&self.max_frames) {
            return Err(format!("tokenizer.max_frames must be 1 to {}, not {}", FRAMES.end(), self.max_frames));
        }
        if !DELAYS.contains(&self.delay_ms) {
            return Err(format!("tokenizer.delay_ms must be 10 to 60000, not {}", self.delay_ms));
        }
        LabelPattern::new(&self.label_pattern).map_err(|e| format!("tokenizer.label_pattern: {e}"))
    }
}

impl ModalityBuilder for VideoConfig {
    type Modality = VideoTokenizer;

    fn extensions(&self) -> Vec<String> {
        ["gif", "png"].map(String::from).to_vec()
    }

    /// Fits the frame tokenizer on the first frame of every clip (a GIF's first frame,
    /// the first PNG of a folder), and when conditional, the classes on the clips' names.
    fn build(&self, files: &[PathBuf]) -> Result<VideoTokenizer, TokenError> {
        let fit = |reason: String| TokenError::Fit { kind: "video", reason };
        let pattern = self.validate().map_err(fit)?;
        let firsts: Vec<PathBuf> = files.iter().filter(|f| crate::read::opens_clip(f)).cloned().collect();
        let mut classes = std::collections::BTreeSet::new();
        if self.conditional {
            classes.extend(firsts.iter().filter_map(|f| pattern.label(&crate::read::clip_name(f)).map(str::to_owned)));
            if classes.is_empty() {
                let reason = format!("no clip's name matches tokenizer.label_pattern {:?}", self.label_pattern);
                return Err(fit(reason));
            }
        }
        // The pixels tokenizer names its keys `tokenizer.width`...; here they sit under `frame`.
        let frame = self.frame.build(&firsts).map_err(|e| match e {
            TokenError::Fit { reason, .. } => {
                TokenError::Fit { kind: "video", reason: reason.replace("tokenizer.", "tokenizer.frame.") }
            }
            other => other,
        })?;
        let labels = self.conditional.then(|| (classes.into_iter().collect(), self.label_pattern.clone()));
        VideoTokenizer::new(frame, self.max_frames, self.delay_ms, labels).map_err(fit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_settings_sit_under_frame_and_bad_values_name_their_key() {
        let config: VideoConfig =
            serde_json::from_str(r#"{"frame": {"width": 8, "levels": 4}, "delay_ms": 50}"#).unwrap();
        assert_eq!((config.frame.width, config.frame.levels, config.max_frames), (Some(8), 4, 4096));
        let err = serde_json::from_str::<VideoConfig>(r#"{"width": 8}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `width`"), "{err}");
        let bad = VideoConfig { max_frames: 0, ..Default::default() };
        assert!(bad.validate().unwrap_err().contains("tokenizer.max_frames"));
        let levels = VideoConfig { frame: PixelsConfig { levels: 1, ..Default::default() }, ..Default::default() };
        let err = levels.build(&[]).unwrap_err().to_string();
        assert!(err.contains("tokenizer.frame.levels"), "{err}");
    }
}
