//! The overview picture: a grid of decoded samples, one row per entry, 1-pixel gaps.

use crate::tokenizer::{PixelsTokenizer, check_decoded_size, check_picture_size};
use autoreg_tokens::{TokenError, write_atomic};
use image::{DynamicImage, Rgb, RgbImage};
use std::path::Path;

/// The grey of the gaps and of empty cells, visible on black and on white.
const GAP: Rgb<u8> = Rgb([128, 128, 128]);

/// Writes the grid of `rows` (each a list of samples) to `path` as PNG, each sample
/// enlarged by the tokenizer's scale.
pub(crate) fn write_overview(
    tokenizer: &PixelsTokenizer,
    rows: &[Vec<Vec<u32>>],
    path: &Path,
) -> Result<(), TokenError> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    if columns == 0 {
        return Err(TokenError::format(path.display().to_string(), "no samples to draw an overview of"));
    }
    let (cell_w, cell_h) = (tokenizer.width() * tokenizer.scale, tokenizer.height() * tokenizer.scale);
    // Sizes in u64, checked before anything is drawn: many samples must not overflow.
    let width = columns as u64 * (u64::from(cell_w) + 1) - 1;
    let height = rows.len() as u64 * (u64::from(cell_h) + 1) - 1;
    let too_big = |e: String| TokenError::format(path.display().to_string(), e);
    check_decoded_size(tokenizer.width(), tokenizer.height(), tokenizer.scale).map_err(too_big)?;
    check_picture_size(width, height, &format!("an overview of {} rows of {columns} samples", rows.len()))
        .map_err(|e| too_big(format!("{e}: draw fewer samples")))?;
    let (width, height) = (width as u32, height as u32);
    let mut canvas = RgbImage::from_pixel(width, height, GAP);
    for (r, row) in rows.iter().enumerate() {
        for (c, tokens) in row.iter().enumerate() {
            let cell = tokenizer.raster(tokens).enlarged(tokenizer.scale).to_image().to_rgb8();
            image::imageops::replace(
                &mut canvas,
                &cell,
                (c as u32 * (cell_w + 1)).into(),
                (r as u32 * (cell_h + 1)).into(),
            );
        }
    }
    write_atomic(path, &crate::decode::png_of(&DynamicImage::ImageRgb8(canvas))?)
}
