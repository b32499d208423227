//! Reading inputs into samples: image files, IDX files and CSV rows, gzip or not.
//! The format is told by the contents; a file's extension only names the format of an
//! image file too corrupt to be recognised.

pub(crate) mod csv;
pub(crate) mod idx;

use crate::error::InputError;
use crate::raster::Raster;
use autoreg_tokens::TokenError;
use image::ImageFormat;
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

/// One image read from an input, at its own size, with its class name if known.
pub(crate) struct Sample {
    /// Values in [0, 1], with the channels asked for.
    pub raster: Raster,
    /// The class name: the subfolder, the IDX label or the CSV label.
    pub label: Option<String>,
}

/// Where an input comes from and how to read it.
pub(crate) struct Source<'a> {
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
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).map_err(InputError::Gzip)?;
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
pub(crate) fn read(bytes: &[u8], source: &Source) -> Result<Vec<Sample>, TokenError> {
    let name = source.name;
    let bytes = unpack(bytes).map_err(|e| e.at(name))?;
    match sniff(&bytes, name) {
        Kind::Image(format) => {
            let image = decode_image(&bytes, format).map_err(|e| e.at(name))?;
            let label = source.folder_label.map(str::to_owned);
            Ok(vec![Sample { raster: Raster::from_image(&image, source.channels), label }])
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
                    Ok(Sample { raster: raster.with_channels(source.channels), label: Some(row.label) })
                })
                .collect()
        }
    }
}

/// Decodes a PNG, JPEG, BMP or GIF (its first frame).
fn decode_image(bytes: &[u8], format: ImageFormat) -> Result<image::DynamicImage, InputError> {
    let format_name = match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Gif => "GIF",
        other => return Err(InputError::Unsupported { format: format!("{other:?}") }),
    };
    image::load_from_memory_with_format(bytes, format)
        .map_err(|source| InputError::Image { format: format_name, source })
}

/// Reads an IDX images file, with labels from the labels file beside it when there is one.
fn read_idx(bytes: &[u8], source: &Source) -> Result<Vec<Sample>, TokenError> {
    let name = source.name;
    let (count, rows, cols, pixels) = match idx::parse(bytes).map_err(|e| e.at(name))? {
        idx::Idx::Labels(_) => return Ok(Vec::new()),
        idx::Idx::Images { count, rows, cols, pixels } => (count, rows, cols, pixels),
    };
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
    let size = (rows * cols) as usize;
    Ok(pixels
        .chunks_exact(size.max(1))
        .zip(labels)
        .map(|(pixels, label)| {
            let values = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
            let raster = Raster { width: cols, height: rows, channels: 1, values };
            Sample { raster: raster.with_channels(source.channels), label }
        })
        .collect())
}
