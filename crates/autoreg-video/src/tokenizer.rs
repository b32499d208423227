use crate::config::{DELAYS, FRAMES};
use crate::read::{self, clip_name, frame_files, opens_clip};
use autoreg_pixels::PixelsTokenizer;
use autoreg_tokens::{
    Classes, Companions, Decoded, Extras, Frames, Inputs, LabelPattern, MergeRule, Modality, Overview, Prompts, Signal,
    SignalShape, Source, Spans, Specials, Split, TokenError, Units, marker_boundaries,
};
use image::DynamicImage;
use image::imageops::FilterType;
use serde::{Deserialize, Serialize};
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

/// A fitted video tokenizer. A clip is `BOS [<frame> pixels...]... EOS`: each frame opened
/// by the frame token, then its pixels as the frame tokenizer writes an image. When
/// conditional, the class (the label that the clip's name gives) follows BOS and every
/// frame token, `BOS Class_k [<frame> Class_k pixels...]... EOS`, so that every window
/// of frames, which starts at a frame, holds it, as sampling does.
///
/// Token ids: the frame tokenizer's pixel symbols, then `<frame>`, then one per class,
/// then BOS, EOS, PAD. Saved as a JSON object: `frame` (the pixels tokenizer),
/// `max_frames`, `delay_ms`, and when conditional `classes` and `label_pattern`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Saved", into = "Saved")]
pub struct VideoTokenizer {
    frame: PixelsTokenizer,
    max_frames: usize,
    delay_ms: u32,
    classes: Vec<String>,
    label_pattern: Option<String>,
}

/// The saved form of [`VideoTokenizer`], validated on load.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    frame: PixelsTokenizer,
    max_frames: usize,
    delay_ms: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label_pattern: Option<String>,
}

impl TryFrom<Saved> for VideoTokenizer {
    type Error = String;

    fn try_from(s: Saved) -> Result<Self, String> {
        let labels = s.label_pattern.map(|pattern| (s.classes, pattern));
        Self::new(s.frame, s.max_frames, s.delay_ms, labels)
    }
}

impl From<VideoTokenizer> for Saved {
    fn from(t: VideoTokenizer) -> Self {
        Self {
            frame: t.frame,
            max_frames: t.max_frames,
            delay_ms: t.delay_ms,
            classes: t.classes,
            label_pattern: t.label_pattern,
        }
    }
}

impl VideoTokenizer {
    /// Checks the parts of a tokenizer and puts them together; `labels`, when
    /// conditional: the class names (sorted, unique) and the pattern of clip names.
    pub(crate) fn new(
        frame: PixelsTokenizer,
        max_frames: usize,
        delay_ms: u32,
        labels: Option<(Vec<String>, String)>,
    ) -> Result<Self, String> {
        if frame.extras().classes.is_some_and(|c| !c.names().is_empty()) {
            return Err("the frame tokenizer of a video has no classes".into());
        }
        if !FRAMES.contains(&max_frames) || !DELAYS.contains(&delay_ms) {
            return Err(format!("max_frames {max_frames} or delay_ms {delay_ms} is out of range"));
        }
        let (classes, label_pattern) = match labels {
            Some((classes, pattern)) => {
                LabelPattern::new(&pattern).map_err(|e| format!("label_pattern: {e}"))?;
                if classes.is_empty() || !classes.windows(2).all(|w| w[0] < w[1]) {
                    return Err("a conditional video's classes must be sorted, unique and not none".into());
                }
                (classes, Some(pattern))
            }
            None => (Vec::new(), None),
        };
        Ok(Self { frame, max_frames, delay_ms, classes, label_pattern })
    }

    /// How each frame becomes tokens.
    pub fn frame(&self) -> &PixelsTokenizer {
        &self.frame
    }

    /// The id of `<frame>`, after the pixel symbols.
    pub fn frame_id(&self) -> u32 {
        self.frame.num_symbols()
    }

    /// Pixel ids per frame (the frame token excluded).
    pub fn pixels_per_frame(&self) -> usize {
        self.frame.image_tokens()
    }

    /// The class token of the clip `source`: none when unconditional; its label, else
    /// the label its name gives by the pattern; an error naming it when there is none
    /// or it is not one of the classes.
    fn class_token(&self, source: &Source) -> Result<Option<u32>, TokenError> {
        let Some(template) = &self.label_pattern else { return Ok(None) };
        let pattern = LabelPattern::new(template).map_err(|e| TokenError::format(source.name(), e))?;
        let name = clip_name(source.path);
        let Some(label) = source.label.or_else(|| pattern.label(&name)) else {
            let reason = format!("the clip's name {name:?} does not match the label pattern {template:?}");
            return Err(TokenError::format(source.name(), reason));
        };
        match self.classes.binary_search_by(|c| c.as_str().cmp(label)) {
            Ok(k) => Ok(Some(self.frame_id() + 1 + k as u32)),
            Err(_) => {
                let reason =
                    format!("label {label:?} is not one of the {} classes {:?}", self.classes.len(), self.classes);
                Err(TokenError::format(source.name(), reason))
            }
        }
    }

    /// The document of a clip's frames, each named for errors, its class token after
    /// BOS and after every frame token.
    fn document(&self, class: Option<u32>, frames: &[(DynamicImage, String)]) -> Result<Vec<u32>, TokenError> {
        let Specials { bos, eos, .. } = self.specials();
        let mut doc = Vec::with_capacity(frames.len() * Frames::frame_len(self) + 3);
        doc.push(bos);
        doc.extend(class);
        for (image, name) in frames {
            let pixels = self.frame.encode_image(image, None, name)?;
            doc.push(self.frame_id());
            doc.extend(class);
            // The frame tokenizer's document is BOS pixels EOS; its pixel ids are ours.
            doc.extend_from_slice(&pixels[1..pixels.len() - 1]);
        }
        doc.push(eos);
        Ok(doc)
    }

    /// The pixel ids of each frame of `ids`, and how many frames were not whole: the
    /// ids before the first frame token start a frame of their own, specials are skipped
    /// and decoding stops at the first EOS; an empty last frame is dropped.
    pub fn frames_of(&self, ids: &[u32]) -> (Vec<Vec<u32>>, usize) {
        let (eos, frame, n) = (self.specials().eos, self.frame_id(), self.frame.num_symbols());
        let mut frames: Vec<Vec<u32>> = Vec::new();
        for &id in ids.iter().take_while(|&&t| t != eos) {
            if id == frame || (id < n && frames.is_empty()) {
                frames.push(Vec::new());
            }
            if let Some(f) = frames.last_mut().filter(|_| id < n) {
                f.push(id);
            }
        }
        if frames.last().is_some_and(Vec::is_empty) {
            frames.pop();
        }
        let repairs = frames.iter().filter(|f| f.len() != self.pixels_per_frame()).count();
        (frames, repairs)
    }

    /// The frames of `ids` as images, enlarged by the frame tokenizer's scale.
    pub fn decode_frames(&self, ids: &[u32]) -> Result<(Vec<DynamicImage>, usize), TokenError> {
        let scale = self.frame.scale();
        let (width, height) = (self.frame.width() * scale, self.frame.height() * scale);
        self.frame.check_decoded_size().map_err(|reason| TokenError::format("decoded clip", reason))?;
        let (frames, repairs) = self.frames_of(ids);
        let images = frames
            .iter()
            .map(|pixels| {
                let image = self.frame.decode_image(pixels);
                if scale == 1 { image } else { image.resize_exact(width, height, FilterType::Nearest) }
            })
            .collect();
        Ok((images, repairs))
    }
}

impl Modality for VideoTokenizer {
    fn kind(&self) -> &'static str {
        "video"
    }

    fn vocab_size(&self) -> usize {
        Specials::vocab_after(self.frame.num_symbols() as usize + 1 + self.classes.len())
    }

    fn specials(&self) -> Specials {
        Specials::after(self.frame_id() + 1 + self.classes.len() as u32)
    }

    fn token_name(&self, id: u32) -> Option<String> {
        if let Some(name) = self.specials().name(id) {
            return Some(name.to_owned());
        }
        match id {
            t if t == self.frame_id() => Some("<frame>".to_owned()),
            t if t < self.frame_id() => self.frame.token_name(t),
            t => self.classes.get((t - self.frame_id() - 1) as usize).map(|c| format!("Class_{c}")),
        }
    }

    /// No id merges: every frame must keep `pixels_per_frame` ids, which frame windows,
    /// sampling and per-frame evaluation count on.
    fn merge_rule(&self) -> MergeRule {
        MergeRule { symbols: 0, bytes: false, default_split: Split::None }
    }

    /// Encodes the clip `source` opens: an animated GIF, or the PNG frames of its folder
    /// when it is the folder's first (a later frame gives no document). A frame of a
    /// folder of another size than its first is skipped and cuts the clip into two
    /// documents, each of frames that follow each other; that frame's own file is
    /// refused, naming it, so that the data set counts it as skipped.
    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        let clip = read::read_clip(source, self.max_frames)?;
        if clip.runs.is_empty() {
            return Ok(Vec::new());
        }
        let class = self.class_token(source)?;
        clip.runs.iter().map(|frames| self.document(class, frames)).collect()
    }

    /// An animated GIF, frames enlarged by the frame tokenizer's scale. Frames of too
    /// few pixels (black filled) or too many (cut) are counted as repairs.
    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        let (frames, repairs) = self.decode_frames(ids)?;
        let bytes = crate::write::encode_gif(&frames, self.delay_ms)?;
        Ok(Decoded { bytes, extension: "gif".into(), repairs, printable: false })
    }

    fn extras(&self) -> Extras<'_> {
        Extras {
            classes: Some(self),
            prompts: Some(self),
            companions: Some(self),
            overview: Some(self),
            units: Some(self),
            inputs: Some(self),
            frames: Some(self),
            signal: self.frame.extras().signal.map(|_| self as &dyn Signal),
            spans: Some(self),
            ..Extras::default()
        }
    }
}

impl Prompts for VideoTokenizer {
    fn unit(&self) -> &'static str {
        "frames"
    }

    /// The prompt clip, cut to its first `length` frames. Frames exactly `scale` times
    /// the frame size (a decoded sample) are shrunk back, so that a sample's frames come
    /// back unchanged. A conditional tokenizer's prompt takes its class from
    /// `source.label` alone (`autoreg sample --class`), not from its name.
    fn prompt(&self, source: &Source, length: Option<f64>) -> Result<Vec<u32>, TokenError> {
        let name = source.name();
        if self.label_pattern.is_some() && source.label.is_none() {
            let reason = "this tokenizer is class-conditional and a prompt's class is never taken from its name: \
                          it must be given (`autoreg sample --class`)";
            return Err(TokenError::format(name, reason));
        }
        let clip = read::read_clip(source, self.max_frames)?;
        let Some(mut frames) = clip.runs.into_iter().next() else {
            let reason = "a later frame of its folder: give the folder's first frame to prompt with the clip";
            return Err(TokenError::format(name, reason));
        };
        // The frames before the first one skipped follow each other; the prompt ends there.
        if let Some(skipped) = clip.skipped.first() {
            autoreg_tokens::warn(format!(
                "{name}: the prompt keeps the clip's first {} frames, up to the one skipped: {skipped}",
                frames.len()
            ));
        }
        let keep = match length {
            None => frames.len(),
            Some(n) if n.fract() == 0.0 && n >= 1.0 && n <= frames.len() as f64 => n as usize,
            Some(n) => {
                let reason = format!("cannot keep {n} frames of a clip of {} frames (--prompt-frames)", frames.len());
                return Err(TokenError::format(name, reason));
            }
        };
        frames.truncate(keep);
        let scale = self.frame.scale();
        let (width, height) = (self.frame.width(), self.frame.height());
        for (image, _) in frames.iter_mut().filter(|_| scale > 1) {
            if (image.width(), image.height()) == (width * scale, height * scale) {
                *image = image.resize_exact(width, height, FilterType::Nearest);
            }
        }
        let mut doc = self.document(self.class_token(source)?, &frames)?;
        doc.pop();
        Ok(doc)
    }
}

impl Classes for VideoTokenizer {
    fn names(&self) -> &[String] {
        &self.classes
    }

    fn ids(&self) -> Range<u32> {
        let first = self.frame_id() + 1;
        first..first + self.classes.len() as u32
    }

    fn in_every_frame(&self) -> bool {
        true
    }
}

/// A frame's pixels are the values of an image, when the frame tokenizer's are.
impl Signal for VideoTokenizer {
    fn symbols(&self) -> u32 {
        self.frame.num_symbols()
    }

    fn shape(&self) -> SignalShape {
        Signal::shape(&self.frame)
    }

    fn values(&self, ids: &[u32]) -> Vec<f32> {
        Signal::values(&self.frame, ids)
    }

    fn ids(&self, values: &[f32]) -> Vec<u32> {
        Signal::ids(&self.frame, values)
    }
}

impl Companions for VideoTokenizer {
    /// The contact sheet: `<sample>.png`, the frames side by side.
    fn write_companions(&self, ids: &[u32], path: &Path) -> Result<Vec<PathBuf>, TokenError> {
        let (frames, _) = self.frames_of(ids);
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        let sheet = path.with_extension("png");
        self.frame.write_overview(&[frames], &sheet)?;
        Ok(vec![sheet])
    }
}

impl Overview for VideoTokenizer {
    /// One row of frames per sample.
    fn write_overview(&self, rows: &[Vec<Vec<u32>>], path: &Path) -> Result<(), TokenError> {
        let strips: Vec<Vec<Vec<u32>>> = rows.iter().flatten().map(|ids| self.frames_of(ids).0).collect();
        self.frame.write_overview(&strips, path)
    }
}

impl Units for VideoTokenizer {
    fn unit(&self) -> &'static str {
        "dim"
    }

    /// Sub-pixels in `doc`, as the frame tokenizer counts them.
    fn count(&self, doc: &[u32]) -> usize {
        Units::count(&self.frame, doc)
    }

    fn anchor(&self) -> Option<&'static str> {
        Some(
            "Video Pixel Networks (Kalchbrenner et al. 2016) on Moving MNIST at 64x64, binary pixels, 10 frames \
             given: 87.6 nats/frame (its lower bound 86.3)",
        )
    }
}

impl Inputs for VideoTokenizer {
    /// The later frames of a folder whose first frame is `path`.
    fn companion_inputs(&self, path: &Path) -> Vec<PathBuf> {
        let png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
        if !png || !opens_clip(path) {
            return Vec::new();
        }
        // A folder that cannot be listed has none here; encoding its first frame says why.
        frame_files(path).map(|files| files.into_iter().skip(1).collect()).unwrap_or_else(|_| Vec::new())
    }
}

/// Fill in the middle cuts clips on frames: each starts at its frame token.
impl Spans for VideoTokenizer {
    fn unit(&self) -> &'static str {
        "frame"
    }

    fn boundaries(&self, ids: &[u32]) -> Vec<RangeInclusive<usize>> {
        marker_boundaries(ids, self.frame_id(), self.specials().eos)
    }
}

impl Frames for VideoTokenizer {
    fn frame_token(&self) -> u32 {
        self.frame_id()
    }

    /// The frame token, the class when conditional, and the pixels.
    fn frame_len(&self) -> usize {
        self.pixels_per_frame() + 1 + usize::from(self.label_pattern.is_some())
    }
}
