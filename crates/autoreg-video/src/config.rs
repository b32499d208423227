use crate::tokenizer::VideoTokenizer;
use autoreg_pixels::PixelsConfig;
use autoreg_tokens::{ModalityBuilder, TokenError};
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
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self { frame: PixelsConfig::default(), max_frames: *FRAMES.end(), delay_ms: 100 }
    }
}

impl VideoConfig {
    /// Checks the video's own settings; the reason names the key.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.frame.conditional {
            return Err("tokenizer.frame.conditional: a video tokenizer has no classes".into());
        }
        if !FRAMES.contains(&self.max_frames) {
            return Err(format!("tokenizer.max_frames must be 1 to {}, not {}", FRAMES.end(), self.max_frames));
        }
        if !DELAYS.contains(&self.delay_ms) {
            return Err(format!("tokenizer.delay_ms must be 10 to 60000, not {}", self.delay_ms));
        }
        Ok(())
    }
}

impl ModalityBuilder for VideoConfig {
    type Modality = VideoTokenizer;

    fn extensions(&self) -> Vec<String> {
        ["gif", "png"].map(String::from).to_vec()
    }

    /// Fits the frame tokenizer on the first frame of every clip (a GIF's first frame,
    /// the first PNG of a folder).
    fn build(&self, files: &[PathBuf]) -> Result<VideoTokenizer, TokenError> {
        self.validate().map_err(|reason| TokenError::Fit { kind: "video", reason })?;
        let firsts: Vec<PathBuf> = files.iter().filter(|f| crate::read::opens_clip(f)).cloned().collect();
        // The pixels tokenizer names its keys `tokenizer.width`...; here they sit under `frame`.
        let frame = self.frame.build(&firsts).map_err(|e| match e {
            TokenError::Fit { reason, .. } => {
                TokenError::Fit { kind: "video", reason: reason.replace("tokenizer.", "tokenizer.frame.") }
            }
            other => other,
        })?;
        VideoTokenizer::new(frame, self.max_frames, self.delay_ms)
            .map_err(|reason| TokenError::Fit { kind: "video", reason })
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
