//! The piano-roll picture.

use crate::score::Score;
use image::{Rgb, RgbImage};

/// Pixels per beat, before shrinking a long piece to [`MAX_WIDTH`].
const PIXELS_PER_BEAT: f64 = 24.0;
/// Widest picture.
const MAX_WIDTH: u32 = 4000;
/// Pixels per semitone.
const ROW: u32 = 4;
/// Semitones of margin above and below the notes.
const MARGIN: u8 = 2;

const BACKGROUND: Rgb<u8> = Rgb([250, 250, 250]);
const BAR_LINE: Rgb<u8> = Rgb([190, 190, 190]);
const OCTAVE_LINE: Rgb<u8> = Rgb([232, 232, 240]);

/// Draws `score`: one row per semitone between its lowest and highest note, velocity
/// as the depth of the colour, a hue per channel.
pub(super) fn piano_roll(score: &Score) -> RgbImage {
    let tpb = f64::from(score.ticks_per_beat.max(1));
    let end = score.end().max(1);
    let scale = (PIXELS_PER_BEAT / tpb).min(f64::from(MAX_WIDTH - 1) / end as f64);
    let x = |tick: u64| (tick as f64 * scale) as u32;
    let low = score.notes.iter().map(|n| n.pitch).min().unwrap_or(60).saturating_sub(MARGIN);
    let high = score.notes.iter().map(|n| n.pitch).max().unwrap_or(72).saturating_add(MARGIN).min(127);
    let rows = u32::from(high - low) + 1;
    let (width, height) = (x(end) + 1, rows * ROW);
    let mut image = RgbImage::from_pixel(width, height, BACKGROUND);
    let y_top = |pitch: u8| (u32::from(high - pitch)) * ROW;
    for pitch in (low..=high).filter(|p| p % 12 == 0) {
        fill(&mut image, 0, width, y_top(pitch) + ROW - 1, y_top(pitch) + ROW, OCTAVE_LINE);
    }
    // At most as many bar lines as pixel columns, a bound for absurd files.
    for bar in score.bar_ticks(end).take(width as usize) {
        fill(&mut image, x(bar), x(bar) + 1, 0, height, BAR_LINE);
    }
    for note in &score.notes {
        let depth = 0.25 + 0.75 * f64::from(note.velocity.min(127)) / 127.0;
        let [r, g, b] = hue(note.channel);
        let shade = |c: u8| (255.0 - (255.0 - f64::from(c)) * depth) as u8;
        let colour = Rgb([shade(r), shade(g), shade(b)]);
        let (x0, x1) = (x(note.start), x(note.end()).max(x(note.start) + 1));
        fill(&mut image, x0, x1, y_top(note.pitch), y_top(note.pitch) + ROW - 1, colour);
    }
    image
}

/// A distinct, dark colour for each channel.
fn hue(channel: u8) -> [u8; 3] {
    const HUES: [[u8; 3]; 8] = [
        [20, 60, 160],
        [180, 40, 40],
        [30, 130, 60],
        [150, 90, 10],
        [110, 40, 150],
        [10, 120, 130],
        [160, 40, 110],
        [90, 90, 90],
    ];
    HUES[usize::from(channel) % HUES.len()]
}

/// Fills the rectangle `x0..x1` × `y0..y1`, clipped to the picture.
fn fill(image: &mut RgbImage, x0: u32, x1: u32, y0: u32, y1: u32, colour: Rgb<u8>) {
    for y in y0..y1.min(image.height()) {
        for x in x0..x1.min(image.width()) {
            image.put_pixel(x, y, colour);
        }
    }
}
