use crate::config::{Colors, Filter, LEVELS, PALETTE_SIZES, SCALES, SIDES, check_positive, check_range};
use crate::error::InputError;
use crate::lossy::Reported;
use crate::raster::{Raster, Shape};
use crate::read::{self, Origin, Sample};
use crate::{palette, quantize};
use autoreg_tokens::{
    Classes, Decoded, Extras, Inputs, MergeRule, Modality, Overview, Prompts, Signal, SignalShape, Source, Spans,
    Specials, Split, TokenError, Units,
};
use image::DynamicImage;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

/// Most pixels of one decoded image, enlarged `scale` times, and of an overview grid:
/// 2^25, about 5,800 x 5,800 (400 MB as RGB values).
pub(crate) const MAX_DECODED_PIXELS: u64 = 1 << 25;

/// Refuses a decoded picture of `width` x `height` pixels past [`MAX_DECODED_PIXELS`];
/// `what` names it in the reason.
pub(crate) fn check_picture_size(width: u64, height: u64, what: &str) -> Result<(), String> {
    if width.saturating_mul(height) > MAX_DECODED_PIXELS {
        return Err(format!("{what} would be {width}x{height} pixels, more than the {MAX_DECODED_PIXELS} allowed"));
    }
    Ok(())
}

/// Refuses images of `width` x `height` whose decoded form, enlarged `scale` times,
/// would pass [`MAX_DECODED_PIXELS`].
pub(crate) fn check_decoded_size(width: u32, height: u32, scale: u32) -> Result<(), String> {
    let (w, h) = (u64::from(width) * u64::from(scale), u64::from(height) * u64::from(scale));
    check_picture_size(w, h, &format!("{width}x{height} images enlarged {scale} times (tokenizer.scale)"))
        .map_err(|e| format!("{e}: lower tokenizer.scale or the image size"))
}

/// What the ordinary tokens stand for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Symbols {
    /// Token `l` is grey level `l` of `levels`.
    Grey {
        /// Number of levels.
        levels: u32,
    },
    /// Token `l` is level `l` of `levels` of one channel; three tokens per pixel.
    Rgb {
        /// Number of levels per channel.
        levels: u32,
    },
    /// Token `i` is palette colour `i`.
    Palette(Vec<[u8; 3]>),
}

/// A fitted image tokenizer. A document is `BOS [Class_k] pixels... EOS`, pixels in
/// raster order, each one token (grey, palette) or three (R, G, B).
///
/// Token ids: the pixel symbols, then one per class (when conditional), then BOS, EOS, PAD.
/// Saved as a JSON object: `width`, `height`, `colors`, `levels` or `palette`, `classes`,
/// `resize`, `filter`, `max_value`, `scale`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Saved", into = "Saved")]
pub struct PixelsTokenizer {
    pub(crate) shape: Shape,
    pub(crate) symbols: Symbols,
    /// Class names, token `n_symbols + k` is class `k`; empty when unconditional.
    pub(crate) classes: Vec<String>,
    /// The CSV value meaning full intensity.
    pub(crate) max_value: f64,
    /// Factor by which decoded images are enlarged.
    pub(crate) scale: u32,
    /// The lossy conversions already reported; not saved.
    pub(crate) reported: Reported,
}

/// The saved form of [`PixelsTokenizer`], validated on load.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    width: u32,
    height: u32,
    colors: Colors,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    levels: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    palette: Vec<[u8; 3]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    classes: Vec<String>,
    resize: bool,
    filter: Filter,
    max_value: f64,
    scale: u32,
}

impl TryFrom<Saved> for PixelsTokenizer {
    type Error = String;

    fn try_from(s: Saved) -> Result<Self, String> {
        let symbols = match (s.colors, s.levels, s.palette.is_empty()) {
            (Colors::Grey, Some(levels), true) => Symbols::Grey { levels },
            (Colors::Rgb, Some(levels), true) => Symbols::Rgb { levels },
            (Colors::Palette, None, false) => Symbols::Palette(s.palette),
            (Colors::Palette, ..) => return Err("a palette tokenizer needs a `palette` and no `levels`".into()),
            _ => return Err("a grey or rgb tokenizer needs `levels` and no `palette`".into()),
        };
        let shape = Shape { width: s.width, height: s.height, resize: s.resize, filter: s.filter };
        Self::new(shape, symbols, s.classes, s.max_value, s.scale)
    }
}

impl From<PixelsTokenizer> for Saved {
    fn from(t: PixelsTokenizer) -> Self {
        let colors = t.colors();
        let (levels, palette) = match t.symbols {
            Symbols::Grey { levels } | Symbols::Rgb { levels } => (Some(levels), Vec::new()),
            Symbols::Palette(palette) => (None, palette),
        };
        let Shape { width, height, resize, filter } = t.shape;
        Self {
            width,
            height,
            colors,
            levels,
            palette,
            classes: t.classes,
            resize,
            filter,
            max_value: t.max_value,
            scale: t.scale,
        }
    }
}

impl PixelsTokenizer {
    /// Checks the parts of a tokenizer and puts them together.
    pub(crate) fn new(
        shape: Shape,
        symbols: Symbols,
        classes: Vec<String>,
        max_value: f64,
        scale: u32,
    ) -> Result<Self, String> {
        check_range("width", shape.width, &SIDES)?;
        check_range("height", shape.height, &SIDES)?;
        match &symbols {
            Symbols::Grey { levels } | Symbols::Rgb { levels } => check_range("levels", *levels, &LEVELS)?,
            Symbols::Palette(p) => {
                check_range("the palette's size", p.len(), &PALETTE_SIZES)?;
                if !p.windows(2).all(|w| w[0] < w[1]) {
                    return Err("the palette's colours must be sorted and unique".into());
                }
            }
        }
        let mut sorted = classes.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != classes.len() || classes.iter().any(String::is_empty) {
            return Err("class names must be unique and not empty".into());
        }
        check_positive("max_value", max_value)?;
        check_range("scale", scale, &SCALES)?;
        Ok(Self { shape, symbols, classes, max_value, scale, reported: Reported::default() })
    }

    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.shape.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.shape.height
    }

    /// How pixels become tokens.
    pub fn colors(&self) -> Colors {
        match self.symbols {
            Symbols::Grey { .. } => Colors::Grey,
            Symbols::Rgb { .. } => Colors::Rgb,
            Symbols::Palette(_) => Colors::Palette,
        }
    }

    /// Levels per channel (grey, rgb); `None` for a palette.
    pub fn levels(&self) -> Option<u32> {
        match self.symbols {
            Symbols::Grey { levels } | Symbols::Rgb { levels } => Some(levels),
            Symbols::Palette(_) => None,
        }
    }

    /// The learned palette, 8-bit RGB; empty unless `colors` is palette.
    pub fn palette(&self) -> &[[u8; 3]] {
        match &self.symbols {
            Symbols::Palette(p) => p,
            _ => &[],
        }
    }

    /// Values per pixel of decoded images: 1 for grey, 3 for rgb and palette.
    pub fn channels(&self) -> usize {
        match self.symbols {
            Symbols::Grey { .. } => 1,
            _ => 3,
        }
    }

    /// The factor by which decoded images are enlarged.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Refuses decoding when a decoded image, enlarged `scale` times, would have more
    /// than 2^25 pixels; the reason names the size.
    pub fn check_decoded_size(&self) -> Result<(), String> {
        check_decoded_size(self.shape.width, self.shape.height, self.scale)
    }

    /// Number of pixel tokens (ordinary tokens that are not classes).
    pub fn num_symbols(&self) -> u32 {
        match &self.symbols {
            Symbols::Grey { levels } | Symbols::Rgb { levels } => *levels,
            Symbols::Palette(p) => p.len() as u32,
        }
    }

    /// Tokens of one image, specials and class excluded.
    pub fn image_tokens(&self) -> usize {
        let per_pixel = if matches!(self.symbols, Symbols::Rgb { .. }) { 3 } else { 1 };
        (self.shape.width * self.shape.height) as usize * per_pixel
    }

    /// The class number of a document: its first class token.
    pub fn class_of(&self, doc: &[u32]) -> Option<usize> {
        let first = self.num_symbols();
        doc.iter().find(|&&t| t >= first && ((t - first) as usize) < self.classes.len()).map(|&t| (t - first) as usize)
    }

    /// Encodes an image in memory into a document `BOS [Class_k] pixels EOS`. `class` is
    /// needed by a conditional tokenizer and ignored otherwise; `name` names the image in errors.
    pub fn encode_image(&self, image: &DynamicImage, class: Option<usize>, name: &str) -> Result<Vec<u32>, TokenError> {
        if let Some(k) = class.filter(|&k| k >= self.classes.len() && !self.classes.is_empty()) {
            return Err(TokenError::format(
                name,
                format!("class {k} is out of range: there are {} classes", self.classes.len()),
            ));
        }
        let label = class.and_then(|k| self.classes.get(k)).cloned();
        self.document(Sample::of_image(image, self.channels(), label), 0, name)
    }

    /// Decodes tokens into the image they describe, at the tokenizer's size (not enlarged):
    /// specials and class tokens are skipped, decoding stops at the first EOS, and missing
    /// pixels are black, extra ones dropped, and so are ids outside the vocabulary.
    pub fn decode_image(&self, tokens: &[u32]) -> DynamicImage {
        self.raster(tokens).to_image()
    }

    /// Decodes tokens as [`PixelsTokenizer::decode_image`] does, into `width * height *
    /// channels` values in [0, 1], raster order, channels interleaved.
    pub fn decode_pixels(&self, tokens: &[u32]) -> Vec<f32> {
        self.raster(tokens).values
    }

    /// The decoded picture of `tokens` as a raster.
    pub(crate) fn raster(&self, tokens: &[u32]) -> Raster {
        let (eos, n) = (self.specials().eos, self.num_symbols());
        let symbols = tokens.iter().take_while(|&&t| t != eos).filter(|&&t| t < n);
        let mut values: Vec<f32> = match &self.symbols {
            Symbols::Grey { levels } | Symbols::Rgb { levels } => {
                symbols.map(|&t| quantize::value(t, *levels)).collect()
            }
            Symbols::Palette(p) => symbols.flat_map(|&t| p[t as usize].map(|c| f32::from(c) / 255.0)).collect(),
        };
        let (width, height, channels) = (self.shape.width, self.shape.height, self.channels());
        values.resize((width * height) as usize * channels, 0.0);
        Raster { width, height, channels, values }
    }

    /// The document of one sample; `index` and `name` name it in errors.
    fn document(&self, sample: Sample, index: usize, name: &str) -> Result<Vec<u32>, TokenError> {
        let (raster, label) = sample.fit(&self.shape, index, name, &self.reported).map_err(|e| e.at(name))?;
        let class = self.class_token(label, index).map_err(|e| e.at(name))?;
        let Specials { bos, eos, .. } = self.specials();
        let mut doc = Vec::with_capacity(self.image_tokens() + 3);
        doc.push(bos);
        doc.extend(class);
        match &self.symbols {
            Symbols::Grey { levels } | Symbols::Rgb { levels } => {
                doc.extend(raster.values.iter().map(|&v| quantize::level(v, *levels)));
            }
            Symbols::Palette(p) => {
                let mut seen: HashMap<[u32; 3], u32> = HashMap::new();
                doc.extend(raster.values.chunks_exact(3).map(|c| {
                    let pixel = [c[0], c[1], c[2]];
                    *seen.entry(pixel.map(f32::to_bits)).or_insert_with(|| palette::nearest(p, pixel) as u32)
                }));
            }
        }
        doc.push(eos);
        Ok(doc)
    }

    /// The class token for `label`: none when unconditional, an error when the label is
    /// missing or unknown.
    fn class_token(&self, label: Option<String>, index: usize) -> Result<Option<u32>, InputError> {
        if self.classes.is_empty() {
            return Ok(None);
        }
        let label = label.ok_or(InputError::NoClass { index })?;
        match self.classes.iter().position(|c| *c == label) {
            Some(k) => Ok(Some(self.num_symbols() + k as u32)),
            None => Err(InputError::UnknownClass { index, class: label, known: self.classes.len() }),
        }
    }

    /// Where the images of `source` come from: its label, else its subfolder's name,
    /// is the class of a plain image; its path finds the labels of IDX images.
    fn origin<'a>(&self, source: &'a Source, name: &'a str) -> Origin<'a> {
        let folder = source.path.parent().and_then(Path::file_name).and_then(|f| f.to_str());
        Origin {
            name,
            path: Some(source.path),
            folder_label: source.label.or(folder),
            max_value: self.max_value,
            channels: self.channels(),
        }
    }
}

impl Modality for PixelsTokenizer {
    fn kind(&self) -> &'static str {
        "pixels"
    }

    fn vocab_size(&self) -> usize {
        Specials::vocab_after(self.num_symbols() as usize + self.classes.len())
    }

    fn specials(&self) -> Specials {
        Specials::after(self.num_symbols() + self.classes.len() as u32)
    }

    fn token_name(&self, token: u32) -> Option<String> {
        if let Some(name) = self.specials().name(token) {
            return Some(name.to_owned());
        }
        let n = self.num_symbols();
        if token >= n {
            return self.classes.get((token - n) as usize).map(|c| format!("Class_{c}"));
        }
        Some(match &self.symbols {
            Symbols::Grey { .. } => format!("Grey_{token}"),
            Symbols::Rgb { .. } => format!("Level_{token}"),
            Symbols::Palette(p) => {
                let [r, g, b] = p[token as usize];
                format!("Colour_{token}_#{r:02x}{g:02x}{b:02x}")
            }
        })
    }

    fn merge_rule(&self) -> MergeRule {
        MergeRule { symbols: self.num_symbols(), bytes: false, default_split: Split::None }
    }

    /// Encodes every image the input holds: a plain image's class is the source's
    /// label or its subfolder's name, IDX images take labels from the labels file
    /// beside them.
    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        let name = source.name();
        let images = read::read(source.bytes, &self.origin(source, &name))?;
        images.into_iter().enumerate().map(|(i, s)| self.document(s, i, &name)).collect()
    }

    /// A PNG enlarged `scale` times; one past [`MAX_DECODED_PIXELS`] is refused
    /// before it is drawn. Missing pixels are black, extra ones dropped, and not counted
    /// as repairs.
    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        check_decoded_size(self.shape.width, self.shape.height, self.scale)
            .map_err(|e| TokenError::format("decoded image", e))?;
        let bytes = crate::decode::png(&self.raster(ids).enlarged(self.scale))?;
        Ok(Decoded { bytes, extension: "png".into(), repairs: 0, printable: false })
    }

    fn extras(&self) -> Extras<'_> {
        Extras {
            classes: Some(self),
            prompts: Some(self),
            overview: Some(self),
            units: Some(self),
            inputs: Some(self),
            signal: self.levels().map(|_| self as &dyn Signal),
            spans: Some(self),
            ..Extras::default()
        }
    }
}

/// Fill in the middle cuts images on rows, counted from the document's start.
impl Spans for PixelsTokenizer {
    fn unit(&self) -> &'static str {
        "row"
    }

    /// Before each row and after the last, from the first pixel (after BOS and the
    /// class); none when `ids` do not start with BOS.
    fn boundaries(&self, ids: &[u32]) -> Vec<RangeInclusive<usize>> {
        let specials = self.specials();
        if ids.first() != Some(&specials.bos) {
            return Vec::new();
        }
        let head = if ids.get(1).is_some_and(|t| Classes::ids(self).contains(t)) { 2 } else { 1 };
        let row = self.image_tokens() / self.shape.height as usize;
        (0..=self.shape.height as usize).map(|r| head + r * row).filter(|&p| p <= ids.len()).map(|p| p..=p).collect()
    }

    fn marked(&self) -> bool {
        false
    }
}

/// Grey and RGB levels are values, for a learned image codec; a palette's colours are
/// not (no signal).
impl Signal for PixelsTokenizer {
    fn symbols(&self) -> u32 {
        self.num_symbols()
    }

    fn shape(&self) -> SignalShape {
        SignalShape::Image { width: self.shape.width, height: self.shape.height, channels: self.channels() as u32 }
    }

    fn values(&self, ids: &[u32]) -> Vec<f32> {
        let levels = self.levels().unwrap_or(2);
        ids.iter().map(|&id| 2.0 * quantize::value(id, levels) - 1.0).collect()
    }

    fn ids(&self, values: &[f32]) -> Vec<u32> {
        let levels = self.levels().unwrap_or(2);
        values.iter().map(|&v| quantize::level((v + 1.0) / 2.0, levels)).collect()
    }
}

impl Prompts for PixelsTokenizer {
    fn unit(&self) -> &'static str {
        "rows"
    }

    /// The prompt's first image, cut to its top `length` rows. An image exactly `scale`
    /// times the tokenizer's size (a decoded sample) is shrunk back square by square, so
    /// that a sample's pixels come back unchanged whatever `resize`.
    ///
    /// A prompt's class is `source.label` alone, which a conditional tokenizer needs:
    /// unlike a training file's, it is never taken from the file's folder, a CSV row or
    /// an IDX labels file beside it (a prompt may be saved anywhere).
    fn prompt(&self, source: &Source, length: Option<f64>) -> Result<Vec<u32>, TokenError> {
        let name = source.name();
        if !self.classes.is_empty() && source.label.is_none() {
            let reason = "this tokenizer is class-conditional and a prompt's class is never taken from its folder \
                          or name: it must be given (`autoreg sample --class`)";
            return Err(InputError::Prompt(reason.into()).at(&name));
        }
        let height = self.shape.height;
        let rows = match length {
            None => height,
            Some(r) if r.fract() == 0.0 && (0.0..=f64::from(height)).contains(&r) => r as u32,
            Some(r) => {
                let reason = format!("cannot keep {r} rows of an image {height} rows high");
                return Err(InputError::Prompt(reason).at(&name));
            }
        };
        // No path: neither the folder nor an IDX labels file beside it is read.
        let origin = Origin { path: None, folder_label: source.label, ..self.origin(source, &name) };
        let mut sample = read::read(source.bytes, &origin)?
            .into_iter()
            .next()
            .ok_or_else(|| TokenError::format(&name, "the prompt holds no image (an IDX labels file?)"))?;
        sample.label = source.label.map(str::to_owned);
        let (width, height) = (self.shape.width * self.scale, self.shape.height * self.scale);
        if self.scale > 1 && (sample.raster.width, sample.raster.height) == (width, height) {
            sample.raster = sample.raster.shrunk(self.scale);
        }
        let mut doc = self.document(sample, 0, &name)?;
        let prefix = if self.classes.is_empty() { 1 } else { 2 };
        doc.truncate(prefix + self.image_tokens() / self.shape.height as usize * rows as usize);
        Ok(doc)
    }
}

impl Classes for PixelsTokenizer {
    fn names(&self) -> &[String] {
        &self.classes
    }

    fn ids(&self) -> Range<u32> {
        self.num_symbols()..self.num_symbols() + self.classes.len() as u32
    }
}

impl Overview for PixelsTokenizer {
    fn write_overview(&self, rows: &[Vec<Vec<u32>>], path: &Path) -> Result<(), TokenError> {
        crate::grid::write_overview(self, rows, path)
    }
}

impl Units for PixelsTokenizer {
    fn unit(&self) -> &'static str {
        "dim"
    }

    /// Sub-pixels in `doc`: one per grey or RGB token, three per palette colour.
    fn count(&self, doc: &[u32]) -> usize {
        let per_token = if matches!(self.symbols, Symbols::Palette(_)) { 3 } else { 1 };
        doc.iter().filter(|&&t| t < self.num_symbols()).count() * per_token
    }
}

impl Inputs for PixelsTokenizer {
    /// The IDX labels file beside an IDX images file at `path`, which encoding reads.
    fn companion_inputs(&self, path: &Path) -> Vec<PathBuf> {
        read::labels_read_with(path).into_iter().collect()
    }
}
