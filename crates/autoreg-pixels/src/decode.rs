//! Decoded pictures to PNG bytes.

use crate::raster::Raster;
use autoreg_tokens::TokenError;
use image::{DynamicImage, ImageFormat};
use std::io::Cursor;

/// `image` encoded as PNG.
pub(crate) fn png_of(image: &DynamicImage) -> Result<Vec<u8>, TokenError> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(|e| TokenError::format("decoded image", format!("cannot encode as PNG: {e}")))?;
    Ok(bytes)
}

/// `raster` as 8-bit PNG bytes.
pub(crate) fn png(raster: &Raster) -> Result<Vec<u8>, TokenError> {
    png_of(&raster.to_image())
}
