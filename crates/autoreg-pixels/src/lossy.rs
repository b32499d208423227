//! Lossy conversions of input images, each kind reported once per tokenizer.

use image::DynamicImage;
use std::fmt;

/// A change that loses part of an input image on its way to tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lossy {
    /// A colour image converted to grey.
    Grey,
    /// An alpha channel dropped.
    Alpha,
    /// More than 8 bits per channel, brought to at most 256 levels and 8-bit output.
    Depth(u16),
    /// An image resized from `from` to `to` (width, height).
    Resized {
        /// The image's own size.
        from: (u32, u32),
        /// The tokenizer's size.
        to: (u32, u32),
    },
}

impl Lossy {
    /// Number of kinds: one report flag each.
    const KINDS: usize = 4;

    /// The kind's index in [`Reported`].
    pub(crate) fn kind(self) -> usize {
        match self {
            Self::Grey => 0,
            Self::Alpha => 1,
            Self::Depth(_) => 2,
            Self::Resized { .. } => 3,
        }
    }

    /// What converting `image` to `channels` (1 or 3) values per pixel loses.
    pub(crate) fn of_image(image: &DynamicImage, channels: usize) -> Vec<Self> {
        let color = image.color();
        let bits = color.bits_per_pixel() / u16::from(color.channel_count());
        [
            (channels == 1 && color.has_color()).then_some(Self::Grey),
            color.has_alpha().then_some(Self::Alpha),
            (bits > 8).then_some(Self::Depth(bits)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl fmt::Display for Lossy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Grey => f.write_str("is in colour: it is converted to grey"),
            Self::Alpha => f.write_str("has an alpha channel: it is dropped"),
            Self::Depth(bits) => write!(
                f,
                "has {bits} bits per channel: tokens hold at most 256 levels and decoded images 8 bits per channel"
            ),
            Self::Resized { from, to } => write!(f, "is {}x{}: it is resized to {}x{}", from.0, from.1, to.0, to.1),
        }
    }
}

/// The kinds of [`Lossy`] conversion already reported by one tokenizer.
pub(crate) type Reported = autoreg_tokens::SaidOnce<{ Lossy::KINDS }>;

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, ImageBuffer, Rgb, RgbaImage};

    #[test]
    fn conversions_of_images_are_named() {
        let rgba = DynamicImage::ImageRgba8(RgbaImage::new(1, 1));
        assert_eq!(Lossy::of_image(&rgba, 1), [Lossy::Grey, Lossy::Alpha]);
        assert_eq!(Lossy::of_image(&rgba, 3), [Lossy::Alpha]);
        let grey = DynamicImage::ImageLuma8(GrayImage::new(1, 1));
        assert!(Lossy::of_image(&grey, 1).is_empty() && Lossy::of_image(&grey, 3).is_empty());
        let deep = DynamicImage::ImageRgb16(ImageBuffer::<Rgb<u16>, _>::new(1, 1));
        assert_eq!(Lossy::of_image(&deep, 3), [Lossy::Depth(16)]);
        let resized = Lossy::Resized { from: (30, 20), to: (28, 28) };
        assert_eq!(resized.to_string(), "is 30x20: it is resized to 28x28");
    }
}
