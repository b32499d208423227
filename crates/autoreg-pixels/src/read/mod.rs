//! Reading inputs into samples: image files, IDX files and CSV rows, gzip or not.
//! The format is told by the contents; a file's extension only names the format of an
//! image file too corrupt to be recognised.

pub(crate) mod csv;
pub(crate) mod idx;

use crate::error::InputError;
use crate::lossy::{Lossy, Reported};
use crate::raster::{Raster, Shape};
use autoreg_tokens::TokenError;
use image::{DynamicImage, ImageFormat, ImageReader};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

/// Most pixels in one input image (image file or IDX image): 2^25, about 5,800 x
/// 5,800, 400 MB as RGB values. Larger images are refused before they are decoded.
const MAX_INPUT_PIXELS: u64 = 1 << 25;

/// Most bytes that gzip input may inflate to (1 GiB); more is refused as a gzip bomb.
const MAX_INFLATED: u64 = 1 << 30;

/// One image read from an input, at its own size, with its class name if known.
pub(crate) struct Sample {
    /// Values in [0, 1], with the channels asked for.
    pub raster: Raster,
    /// The class name: the subfolder, the IDX label or the CSV label.
    pub label: Option<String>,
    /// What reading it lost (colour, alpha, bit depth), to report.
    pub lossy: Vec<Lossy>,
}

impl Sample {
    /// A decoded image converted to `channels` (1 or 3) values per pixel, with `label`.
    pub fn of_image(image: &DynamicImage, channels: usize, label: Option<String>) -> Self {
        Self { raster: Raster::from_image(image, channels), label, lossy: Lossy::of_image(image, channels) }
    }

    /// The raster brought to `shape`'s size, and the label. What reading and resizing
    /// lost is reported to `reported` under `name`; `index` names the image in errors.
    pub fn fit(
        self,
        shape: &Shape,
        index: usize,
        name: &str,
        reported: &Reported,
    ) -> Result<(Raster, Option<String>), InputError> {
        let from = (self.raster.width, self.raster.height);
        let raster = shape.fit(self.raster, index)?;
        let to = (shape.width, shape.height);
        let resized = (from != to).then_some(Lossy::Resized { from, to });
        self.lossy.into_iter().chain(resized).for_each(|lossy| reported.warn(lossy.kind(), name, &lossy));
        Ok((raster, self.label))
    }
}

/// Where an input comes from and how to read it.
pub(crate) struct Origin<'a> {
    /// Names the input in errors.
    pub name: &'a str,
    /// The input's path, to find an IDX labels file beside it.
    pub path: Option<&'a Path>,
    /// The class of a plain image file (its subfolder).
    pub folder_label: Option<&'a str>,
    /// The CSV value that means full intensity.
    pub max_value: f64,
    /// 1 (grey) or 3 (RGB) values per pixel.
    pub channels: usize,
}

/// What an input holds.
enum Kind {
    /// An image file in this format.
    Image(ImageFormat),
    /// An IDX file.
    Idx,
    /// Text, read as CSV rows.
    Csv,
}

/// The bytes of an input, inflated when they are gzip.
fn unpack(bytes: &[u8]) -> Result<Cow<'_, [u8]>, InputError> {
    unpack_at_most(bytes, MAX_INFLATED)
}

/// [`unpack`], refusing gzip data that inflates to more than `limit` bytes.
fn unpack_at_most(bytes: &[u8], limit: u64) -> Result<Cow<'_, [u8]>, InputError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).take(limit + 1).read_to_end(&mut out).map_err(InputError::Gzip)?;
    if out.len() as u64 > limit {
        return Err(InputError::Inflated { limit });
    }
    Ok(Cow::Owned(out))
}

/// Tells the kind of an input from its (inflated) bytes, then from its name.
fn sniff(bytes: &[u8], name: &str) -> Kind {
    if let Ok(format) = image::guess_format(bytes) {
        return Kind::Image(format);
    }
    if idx::looks_like_idx(bytes) {
        return Kind::Idx;
    }
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    match Path::new(name).extension().and_then(|e| e.to_str()).and_then(ImageFormat::from_extension) {
        Some(format) => Kind::Image(format),
        None => Kind::Csv,
    }
}

/// The CSV rows of an input, or `None` when it is not CSV.
pub(crate) fn csv_rows(bytes: &[u8], name: &str) -> Result<Option<Vec<csv::Row>>, TokenError> {
    let bytes = unpack(bytes).map_err(|e| e.at(name))?;
    match sniff(&bytes, name) {
        Kind::Csv => {
            let text = std::str::from_utf8(&bytes).map_err(|_| InputError::Unrecognised.at(name))?;
            csv::parse(text).map(Some).map_err(|e| e.at(name))
        }
        _ => Ok(None),
    }
}

/// Reads every image of an input. An IDX labels file holds none (it is read beside its
/// images file).
pub(crate) fn read(bytes: &[u8], source: &Origin) -> Result<Vec<Sample>, TokenError> {
    let name = source.name;
    let bytes = unpack(bytes).map_err(|e| e.at(name))?;
    match sniff(&bytes, name) {
        Kind::Image(format) => {
            let image = decode_image(&bytes, format).map_err(|e| e.at(name))?;
            Ok(vec![Sample::of_image(&image, source.channels, source.folder_label.map(str::to_owned))])
        }
        Kind::Idx => read_idx(&bytes, source),
        Kind::Csv => {
            let text = std::str::from_utf8(&bytes).map_err(|_| InputError::Unrecognised.at(name))?;
            let rows = csv::parse(text).map_err(|e| e.at(name))?;
            rows.into_iter()
                .enumerate()
                .map(|(i, row)| {
                    if let Some(&v) = row.values.iter().find(|&&v| v > source.max_value) {
                        let reason = format!("value {v} in row {} is above max_value {}", i + 1, source.max_value);
                        return Err(TokenError::format(name, reason));
                    }
                    let values = row.values.iter().map(|&v| (v / source.max_value) as f32).collect();
                    let raster = Raster { width: row.side, height: row.side, channels: 1, values };
                    let label = Some(row.label).filter(|l| !l.is_empty());
                    Ok(Sample { raster: raster.with_channels(source.channels), label, lossy: Vec::new() })
                })
                .collect()
        }
    }
}

/// Decodes a PNG, JPEG, BMP or GIF (its first frame), refusing one of no pixels or of
/// more than [`MAX_INPUT_PIXELS`] from its header, before decoding it.
fn decode_image(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, InputError> {
    let format_name = match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Gif => "GIF",
        other => return Err(InputError::Unsupported { format: format!("{other:?}") }),
    };
    let corrupt = |source| InputError::Image { format: format_name, source };
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(corrupt)?;
    check_input_size(width, height)?;
    let image = image::load_from_memory_with_format(bytes, format).map_err(corrupt)?;
    // A GIF always decodes as RGBA, whatever its palette holds.
    Ok(if format == ImageFormat::Gif { narrowed(image) } else { image })
}

/// `image` (8-bit RGBA) in the narrowest colour type that holds it exactly: grey when
/// every pixel is grey, without alpha when every pixel is opaque. Other images are
/// returned as they are.
pub fn narrowed(image: DynamicImage) -> DynamicImage {
    let DynamicImage::ImageRgba8(rgba) = image else { return image };
    let opaque = rgba.pixels().all(|p| p[3] == 255);
    let grey = rgba.pixels().all(|p| p[0] == p[1] && p[1] == p[2]);
    match (opaque, grey) {
        (true, true) => DynamicImage::ImageRgba8(rgba).into_luma8().into(),
        (true, false) => DynamicImage::ImageRgba8(rgba).into_rgb8().into(),
        _ => DynamicImage::ImageRgba8(rgba),
    }
}

/// Refuses an input image of no pixels or of more than [`MAX_INPUT_PIXELS`].
fn check_input_size(width: u32, height: u32) -> Result<(), InputError> {
    if width == 0 || height == 0 {
        return Err(InputError::Empty { width, height });
    }
    if u64::from(width) * u64::from(height) > MAX_INPUT_PIXELS {
        return Err(InputError::TooLarge { width, height, limit: MAX_INPUT_PIXELS });
    }
    Ok(())
}

/// The labels file that reading the file at `path` reads too: the IDX labels file
/// beside it, when `path` holds IDX images (gzip or not). A file that cannot be read
/// has none; reading it reports why.
pub(crate) fn labels_read_with(path: &Path) -> Option<PathBuf> {
    let labels = idx::labels_beside(path)?;
    let mut file = BufReader::new(File::open(path).ok()?);
    let mut magic = [0u8; 4];
    if file.fill_buf().ok()?.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(file).read_exact(&mut magic).ok()?;
    } else {
        file.read_exact(&mut magic).ok()?;
    }
    (u32::from_be_bytes(magic) == idx::IMAGES_MAGIC).then_some(labels)
}

/// Reads an IDX images file, with labels from the labels file beside it when there is one.
fn read_idx(bytes: &[u8], source: &Origin) -> Result<Vec<Sample>, TokenError> {
    let name = source.name;
    let (count, rows, cols, pixels) = match idx::parse(bytes).map_err(|e| e.at(name))? {
        idx::Idx::Labels(_) => return Ok(Vec::new()),
        idx::Idx::Images { count, rows, cols, pixels } => (count, rows, cols, pixels),
    };
    check_input_size(cols, rows).map_err(|e| e.at(name))?;
    let labels = match source.path.and_then(idx::labels_beside) {
        Some(path) => {
            let label_name = path.display().to_string();
            let raw = std::fs::read(&path).map_err(|e| TokenError::io(&path, e))?;
            let raw = unpack(&raw).map_err(|e| e.at(&label_name))?;
            match idx::parse(&raw).map_err(|e| e.at(&label_name))? {
                idx::Idx::Labels(labels) if labels.len() == count => {
                    labels.iter().map(|l| Some(l.to_string())).collect()
                }
                idx::Idx::Labels(labels) => {
                    return Err(InputError::LabelCount { labels: labels.len(), images: count }.at(&label_name));
                }
                idx::Idx::Images { .. } => {
                    return Err(TokenError::format(label_name, "an IDX images file where the labels file belongs"));
                }
            }
        }
        None => vec![None; count],
    };
    let size = rows as usize * cols as usize;
    Ok(pixels
        .chunks_exact(size.max(1))
        .zip(labels)
        .map(|(pixels, label)| {
            let values = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
            let raster = Raster { width: cols, height: rows, channels: 1, values };
            Sample { raster: raster.with_channels(source.channels), label, lossy: Vec::new() }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_that_inflates_past_the_limit_is_refused() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 2000, "{} bytes", bomb.len());
        assert_eq!(unpack_at_most(&bomb, 1 << 20).unwrap().len(), 1 << 20);
        let err = unpack_at_most(&bomb, (1 << 20) - 1).unwrap_err().to_string();
        assert_eq!(err, "gzip data inflates to more than 1048575 bytes");
        assert!(matches!(unpack_at_most(b"plain", 1), Ok(Cow::Borrowed(b"plain"))));
    }
}
