//! Moving MNIST (Srivastava et al. 2015), made locally: MNIST digits of 28x28 that
//! bounce inside a square frame. The standard recipe: each digit starts at a uniform
//! position inside the frame, moves in a uniform direction at a uniform speed of 2 to 6
//! pixels a frame, and its velocity flips where it meets an edge; the digits' pixels are
//! summed and clipped.

use autoreg_pixels::{Colors, PixelsConfig};
use autoreg_tokens::{Modality, ModalityBuilder, Source, TokenError};
use image::GrayImage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ops::RangeInclusive;
use std::path::Path;

/// The side of an MNIST digit, in pixels.
pub const DIGIT: u32 = 28;
/// Frame sides allowed: a digit must fit.
const SIZES: RangeInclusive<u32> = DIGIT..=1024;
/// Frames per clip allowed.
const FRAMES: RangeInclusive<usize> = 1..=4096;
/// Digits per clip allowed.
const DIGITS: RangeInclusive<usize> = 1..=8;
/// Speeds allowed, pixels per frame.
const SPEED: RangeInclusive<f64> = 2.0..=6.0;

/// What clips to make.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MovingMnist {
    /// Frames per clip (the standard set: 20).
    pub frames: usize,
    /// Side of the square frame in pixels (the standard set: 64).
    pub size: u32,
    /// Digits per clip (the standard set: 2).
    pub digits: usize,
}

impl Default for MovingMnist {
    fn default() -> Self {
        Self { frames: 20, size: 64, digits: 2 }
    }
}

/// One MNIST digit: 28x28 grey values, row by row.
pub type Digit = Vec<u8>;

/// The digits of an MNIST images file, with their labels when asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Digits {
    /// The images.
    pub images: Vec<Digit>,
    /// The label of each image (`"7"`); empty unless asked for.
    pub labels: Vec<String>,
}

/// The digits of an MNIST images file (IDX, gzip or not), read by the pixels tokenizer;
/// with `labelled`, their labels too, from the IDX labels file beside it.
pub fn load_digits(path: &Path, labelled: bool) -> Result<Digits, TokenError> {
    let config = PixelsConfig {
        width: Some(DIGIT),
        height: Some(DIGIT),
        resize: false,
        colors: Colors::Grey,
        levels: 256,
        conditional: labelled,
        ..PixelsConfig::default()
    };
    let tokenizer = config.build(&[path.to_path_buf()])?;
    let bytes = std::fs::read(path).map_err(|e| TokenError::io(path, e))?;
    let docs = tokenizer.encode(&Source::new(path, &bytes))?;
    if docs.is_empty() {
        return Err(TokenError::format(path.display().to_string(), "holds no digit (an IDX labels file?)"));
    }
    let names = tokenizer.extras().classes.map_or(&[][..], |c| c.names());
    let labels = docs.iter().filter_map(|doc| tokenizer.class_of(doc).map(|k| names[k].clone())).collect();
    let images = docs
        .iter()
        .map(|doc| tokenizer.decode_pixels(doc).iter().map(|&v| (v * 255.0).round() as u8).collect())
        .collect();
    Ok(Digits { images, labels })
}

/// One clip: its frames, and which digits move in it (indices of the digits given).
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    /// The frames, grey.
    pub frames: Vec<GrayImage>,
    /// The digits that move in it, by their index.
    pub digits: Vec<usize>,
}

impl MovingMnist {
    /// Checks the settings; the reason names the option.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, what: String| if ok { Ok(()) } else { Err(what) };
        check(FRAMES.contains(&self.frames), format!("--frames must be 1 to 4096, not {}", self.frames))?;
        check(
            SIZES.contains(&self.size),
            format!("--size must be {DIGIT} to 1024 (a digit must fit), not {}", self.size),
        )?;
        check(DIGITS.contains(&self.digits), format!("--digits must be 1 to 8, not {}", self.digits))
    }

    /// Clip number `index` of the set drawn with `seed`, from `digits`: `frames` grey
    /// frames of `size` x `size`. Each clip has its own generator, seeded by `seed` and
    /// `index`, so a clip is the same however many are made.
    pub fn clip(&self, digits: &[Digit], seed: u64, index: u64) -> Clip {
        let mut rng = StdRng::seed_from_u64(seed ^ index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let room = f64::from(self.size - DIGIT);
        let mut movers: Vec<Mover> = (0..self.digits)
            .map(|_| {
                let digit = rng.random_range(0..digits.len().max(1));
                let angle = rng.random_range(0.0..std::f64::consts::TAU);
                let speed = rng.random_range(SPEED);
                let (x, y) = (rng.random_range(0.0..=room), rng.random_range(0.0..=room));
                Mover { digit, x, y, dx: speed * angle.cos(), dy: speed * angle.sin() }
            })
            .collect();
        let frames = (0..self.frames)
            .map(|_| {
                let mut frame = GrayImage::new(self.size, self.size);
                for m in &movers {
                    let Some(pixels) = digits.get(m.digit) else { continue };
                    let (left, top) = (m.x.round() as u32, m.y.round() as u32);
                    for (i, &v) in pixels.iter().enumerate() {
                        let (x, y) = (left + i as u32 % DIGIT, top + i as u32 / DIGIT);
                        let p = frame.get_pixel_mut(x, y);
                        p[0] = p[0].saturating_add(v);
                    }
                }
                movers.iter_mut().for_each(|m| m.step(room));
                frame
            })
            .collect();
        Clip { frames, digits: movers.iter().map(|m| m.digit).collect() }
    }
}

/// A digit on the move: its top-left corner and its velocity, pixels per frame.
struct Mover {
    digit: usize,
    x: f64,
    y: f64,
    dx: f64,
    dy: f64,
}

impl Mover {
    /// One frame on, bouncing off the edges of a frame that leaves `room` pixels of play.
    fn step(&mut self, room: f64) {
        (self.x, self.dx) = bounce(self.x + self.dx, self.dx, room);
        (self.y, self.dy) = bounce(self.y + self.dy, self.dy, room);
    }
}

/// A coordinate moved to `at`, reflected back into `[0, room]` with its velocity flipped
/// when it left.
fn bounce(at: f64, velocity: f64, room: f64) -> (f64, f64) {
    if at < 0.0 {
        ((-at).min(room), -velocity)
    } else if at > room {
        ((2.0 * room - at).max(0.0), -velocity)
    } else {
        (at, velocity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A square digit of full ink, and one of half.
    fn digits() -> Vec<Digit> {
        vec![vec![255; 784], vec![128; 784]]
    }

    #[test]
    fn clips_are_seeded_and_digits_stay_inside_and_move_by_their_speed() {
        let mm = MovingMnist { frames: 30, size: 40, digits: 1 };
        let clip = mm.clip(&digits(), 5, 3);
        assert_eq!(clip, mm.clip(&digits(), 5, 3));
        assert_ne!(clip, mm.clip(&digits(), 5, 4));
        assert!(clip.digits.len() == 1 && clip.digits[0] < 2);
        let clip = clip.frames;
        assert_eq!(clip.len(), 30);
        let corner = |f: &GrayImage| {
            let inked: Vec<(u32, u32)> = f.enumerate_pixels().filter(|p| p.2[0] > 0).map(|p| (p.0, p.1)).collect();
            assert_eq!(inked.len(), 784, "the whole digit is inside the frame");
            inked[0]
        };
        let corners: Vec<(u32, u32)> = clip.iter().map(corner).collect();
        for w in corners.windows(2) {
            let (dx, dy) = (w[1].0.abs_diff(w[0].0), w[1].1.abs_diff(w[0].1));
            let step = f64::from(dx * dx + dy * dy).sqrt();
            // At most the speed (6), plus rounding; a bounce can only shorten a step.
            assert!(step <= 6.0 + 1.5, "{w:?}");
        }
        assert!(corners.windows(2).any(|w| w[0] != w[1]), "the digit moves");
    }

    #[test]
    fn two_digits_are_summed_and_clipped() {
        let mm = MovingMnist { frames: 1, size: 28, digits: 2 };
        // A frame of the digit's size leaves no room: both digits cover all of it, so a
        // pixel is 128 + 128 or more, clipped at 255.
        for seed in 0..8 {
            let frame = &mm.clip(&digits(), seed, 0).frames[0];
            assert!(frame.pixels().all(|p| p[0] == 255), "{:?}", &frame.as_raw()[..4]);
        }
        let one = MovingMnist { digits: 1, ..mm };
        assert!((0..8).any(|seed| one.clip(&digits(), seed, 0).frames[0].get_pixel(0, 0)[0] == 128));
        assert!(MovingMnist { size: 27, ..mm }.validate().unwrap_err().contains("--size"));
        assert!(MovingMnist { digits: 0, ..mm }.validate().unwrap_err().contains("--digits"));
    }

    #[test]
    fn bounces_flip_the_velocity_at_both_edges() {
        assert_eq!(bounce(-2.0, -3.0, 10.0), (2.0, 3.0));
        assert_eq!(bounce(12.5, 4.0, 10.0), (7.5, -4.0));
        assert_eq!(bounce(5.0, 1.0, 10.0), (5.0, 1.0));
    }
}
