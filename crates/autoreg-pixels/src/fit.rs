//! Fitting a [`PixelsTokenizer`] on training files: image size, CSV scale, classes and palette.

use crate::config::{Colors, PixelsConfig, SIDES, check_range};
use crate::lossy::Reported;
use crate::palette;
use crate::raster::Shape;
use crate::read::{self, Origin, csv};
use crate::tokenizer::{PixelsTokenizer, Symbols, check_decoded_size};
use autoreg_tokens::TokenError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What one training file contributes.
#[derive(Default)]
struct Harvest {
    /// Images read and brought to size.
    images: usize,
    /// Their class names.
    labels: BTreeSet<String>,
    /// Pixels drawn for the palette, RGB in [0, 1].
    pixels: Vec<[f32; 3]>,
    /// Why the file or one of its images could not be used, if so.
    error: Option<String>,
}

/// An error for a config or data set that cannot give a tokenizer.
fn fit_error(reason: impl Into<String>) -> TokenError {
    TokenError::Fit { kind: "pixels", reason: reason.into() }
}

/// Builds the tokenizer `config` describes, learning from `files` what it leaves open.
/// Files that cannot be read are skipped.
pub(crate) fn fit(config: &PixelsConfig, files: &[PathBuf]) -> Result<PixelsTokenizer, TokenError> {
    config.validate().map_err(fit_error)?;
    let max_value = match config.max_value {
        Some(v) => v,
        None => largest_csv_value(files).unwrap_or(255.0),
    };
    let channels = if config.colors == Colors::Grey { 1 } else { 3 };
    let by_folder = files.iter().filter_map(|f| f.parent()).collect::<BTreeSet<_>>().len() > 1;
    let samples = |path: &Path| -> Result<Vec<read::Sample>, TokenError> {
        let name = path.display().to_string();
        let folder = path.parent().and_then(Path::file_name).and_then(|f| f.to_str()).filter(|_| by_folder);
        let source = Origin { name: &name, path: Some(path), folder_label: folder, max_value, channels };
        read::read(&std::fs::read(path).map_err(|e| TokenError::io(path, e))?, &source)
    };
    let (width, height) = match (config.width, config.height) {
        (Some(w), Some(h)) => (w, h),
        (w, h) => {
            let mut first_error = None;
            let first = files.iter().find_map(|f| match samples(f) {
                Ok(s) => s.into_iter().next().map(|s| (f, s.raster)),
                Err(e) => {
                    first_error.get_or_insert(e.to_string());
                    None
                }
            });
            let (file, raster) = first.ok_or_else(|| no_images(files, first_error))?;
            let size = (w.unwrap_or(raster.width), h.unwrap_or(raster.height));
            let from_image = |key: &str, side: u32| {
                check_range(key, side, &SIDES).map_err(|e| {
                    fit_error(format!(
                        "{e}, the size of the first image ({}): set tokenizer.width and tokenizer.height to resize",
                        file.display()
                    ))
                })
            };
            from_image("tokenizer.width", size.0)?;
            from_image("tokenizer.height", size.1)?;
            size
        }
    };
    check_decoded_size(width, height, config.scale).map_err(fit_error)?;
    let shape = Shape { width, height, resize: config.resize, filter: config.filter };
    let quota = match config.colors {
        Colors::Palette => config.palette_sample.div_ceil(files.len().max(1)),
        _ => 0,
    };
    let reported = Reported::default();
    let harvests: Vec<Harvest> = files
        .par_iter()
        .enumerate()
        .map(|(i, path)| {
            let mut rng = StdRng::seed_from_u64(config.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut harvest = Harvest::default();
            let mut seen = 0usize;
            let name = path.display().to_string();
            let read = samples(path).unwrap_or_else(|e| {
                harvest.error = Some(e.to_string());
                Vec::new()
            });
            for (j, sample) in read.into_iter().enumerate() {
                let (raster, label) = match sample.fit(&shape, j, &name, &reported) {
                    Ok(fitted) => fitted,
                    Err(e) => {
                        harvest.error.get_or_insert_with(|| e.at(&name).to_string());
                        continue;
                    }
                };
                harvest.images += 1;
                harvest.labels.extend(label);
                if quota > 0 {
                    for p in raster.values.chunks_exact(3) {
                        draw(&mut harvest.pixels, [p[0], p[1], p[2]], quota, &mut seen, &mut rng);
                    }
                }
            }
            harvest
        })
        .collect();
    if harvests.iter().all(|h| h.images == 0) {
        return Err(no_images(files, harvests.into_iter().find_map(|h| h.error)));
    }
    let classes = if config.conditional { classes(&harvests)? } else { Vec::new() };
    let symbols = match config.colors {
        Colors::Grey => Symbols::Grey { levels: config.levels },
        Colors::Rgb => Symbols::Rgb { levels: config.levels },
        Colors::Palette => {
            let pixels: Vec<[f32; 3]> = harvests.into_iter().flat_map(|h| h.pixels).collect();
            Symbols::Palette(palette::fit(&pixels, config.palette_size, config.seed))
        }
    };
    let tokenizer = PixelsTokenizer::new(shape, symbols, classes, max_value, config.scale).map_err(fit_error)?;
    // What fitting reported stays said when the same data set is encoded.
    Ok(PixelsTokenizer { reported, ..tokenizer })
}

/// Reservoir sampling: keeps a uniform draw of at most `quota` of the pixels offered.
fn draw(kept: &mut Vec<[f32; 3]>, pixel: [f32; 3], quota: usize, seen: &mut usize, rng: &mut StdRng) {
    *seen += 1;
    if kept.len() < quota {
        kept.push(pixel);
    } else {
        let j = rng.random_range(0..*seen);
        if j < quota {
            kept[j] = pixel;
        }
    }
}

/// The error for training files that hold no usable image; `first_error` says why one failed.
fn no_images(files: &[PathBuf], first_error: Option<String>) -> TokenError {
    let why = match (first_error, files.first()) {
        (Some(e), _) => format!("; the first error: {e}"),
        (None, Some(f)) => format!(" (the first is {})", f.display()),
        (None, None) => String::new(),
    };
    fit_error(format!("none of the {} data files holds a readable image of the right size{why}", files.len()))
}

/// The largest value in the training files' CSV rows, if any file is CSV. Files are
/// read in parallel, as the harvest below reads them.
fn largest_csv_value(files: &[PathBuf]) -> Option<f64> {
    files
        .par_iter()
        .filter_map(|f| {
            let bytes = std::fs::read(f).ok()?;
            read::csv_rows(&bytes, &f.display().to_string()).ok().flatten()
        })
        .map(|rows| csv::largest(&rows))
        .filter(|&m| m > 0.0)
        .reduce_with(f64::max)
}

/// The class names found, numbers first in numeric order, then other names in order.
fn classes(harvests: &[Harvest]) -> Result<Vec<String>, TokenError> {
    let mut names: Vec<String> = harvests.iter().flat_map(|h| h.labels.iter().cloned()).collect();
    names.sort_by_key(|n| (n.parse::<u64>().map_or(1, |_| 0), n.parse::<u64>().unwrap_or(0), n.clone()));
    names.dedup();
    if names.is_empty() {
        return Err(fit_error(
            "conditional = true needs classes: put images in one subfolder per class, \
             keep the IDX labels file beside the images file, or give CSV rows a trailing label",
        ));
    }
    Ok(names)
}
