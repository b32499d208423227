//! A waveform picture: the amplitude envelope over time, as a PNG.

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};

/// Picture width in pixels: one column per slice of time.
const WIDTH: u32 = 800;
/// Picture height in pixels: full scale −1 at the bottom, +1 at the top.
const HEIGHT: u32 = 200;
const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const AXIS: Rgb<u8> = Rgb([200, 200, 200]);
const WAVE: Rgb<u8> = Rgb([31, 76, 148]);

/// PNG bytes of the waveform of `samples` at `rate` Hz: in every column, a bar from the
/// lowest to the highest sample of its slice of time, over a centre line with a tick
/// at the bottom every second.
pub(crate) fn waveform_png(samples: &[f32], rate: u32) -> Result<Vec<u8>, image::ImageError> {
    let mut img = RgbImage::from_pixel(WIDTH, HEIGHT, BACKGROUND);
    for x in 0..WIDTH {
        img.put_pixel(x, HEIGHT / 2, AXIS);
    }
    let len = samples.len() as u64;
    if len > 0 {
        let row = |v: f32| ((1.0 - v.clamp(-1.0, 1.0)) / 2.0 * (HEIGHT - 1) as f32).round() as u32;
        for x in 0..WIDTH {
            let start = (u64::from(x) * len / u64::from(WIDTH)) as usize;
            let end = ((u64::from(x + 1) * len / u64::from(WIDTH)) as usize).max(start + 1);
            let slice = &samples[start..end];
            let (lo, hi) = slice.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
            for y in row(hi)..=row(lo) {
                img.put_pixel(x, y, WAVE);
            }
        }
        let seconds = len / u64::from(rate.max(1));
        for s in 1..=seconds {
            let x = (s * u64::from(rate) * u64::from(WIDTH) / len).min(u64::from(WIDTH - 1)) as u32;
            for y in HEIGHT - 8..HEIGHT {
                img.put_pixel(x, y, AXIS);
            }
        }
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png).write_image(img.as_raw(), WIDTH, HEIGHT, ExtendedColorType::Rgb8)?;
    Ok(png)
}
