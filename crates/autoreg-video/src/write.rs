//! Decoded clips to animated GIF bytes.

use autoreg_tokens::TokenError;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, DynamicImage, Frame};

/// `frames` as an animated GIF that loops, each frame shown `delay_ms` milliseconds.
/// GIF keeps at most 256 colours a frame: grey levels and palettes of up to 256 colours
/// come back exactly, more are quantised.
pub fn encode_gif(frames: &[DynamicImage], delay_ms: u32) -> Result<Vec<u8>, TokenError> {
    let failed = |e: image::ImageError| TokenError::format("decoded clip", format!("cannot encode as GIF: {e}"));
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(failed)?;
        let delay = Delay::from_numer_denom_ms(delay_ms, 1);
        encoder.encode_frames(frames.iter().map(|f| Frame::from_parts(f.to_rgba8(), 0, 0, delay))).map_err(failed)?;
    }
    Ok(bytes)
}
