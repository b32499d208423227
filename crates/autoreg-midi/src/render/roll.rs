//! The piano-roll picture.

use crate::score::Score;
use image::{Rgb, RgbImage};
use plotters::prelude::{BitMapBackend, IntoDrawingArea, IntoFont, RGBColor, Text};
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Pixels per beat (quarter note), before stretching a short piece to [`MIN_WIDTH`] or
/// shrinking a long one to [`MAX_WIDTH`].
const PIXELS_PER_BEAT: f64 = 24.0;
/// Narrowest picture: a short tune is stretched to it.
const MIN_WIDTH: u32 = 800;
/// Widest picture: a long piece is shrunk to it.
const MAX_WIDTH: u32 = 4000;
/// Pixels per semitone.
const ROW: u32 = 10;
/// Semitones of margin above and below the notes.
const MARGIN: u8 = 2;
/// Fewest semitones shown, so that at least one C (and its name) is always in view.
const MIN_ROWS: u8 = 15;
/// Width of the column of pitch names.
const NAMES: u32 = 36;
/// Width of the keyboard.
const KEYS: u32 = 18;
/// Length of a black key on the keyboard.
const BLACK_KEY_LENGTH: u32 = 11;
/// Left of the roll: pitch names and keyboard.
const LEFT: u32 = NAMES + KEYS;
/// Above the roll: bar numbers.
const TOP: u32 = 22;
/// Right of and below the roll: a little air.
const RIGHT: u32 = 10;
const BOTTOM: u32 = 6;
/// Most bars drawn, a bound for absurd files.
const MAX_BARS: usize = 10_000;
/// Font family the labels are drawn in (DejaVu Sans, compiled in).
const FONT: &str = "sans-serif";
/// Label size in pixels.
const FONT_SIZE: f64 = 13.0;

const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const WHITE_ROW: Rgb<u8> = Rgb([252, 252, 252]);
const BLACK_ROW: Rgb<u8> = Rgb([236, 237, 242]);
const BEAT_LINE: Rgb<u8> = Rgb([222, 222, 228]);
const OCTAVE_LINE: Rgb<u8> = Rgb([190, 192, 205]);
const BAR_LINE: Rgb<u8> = Rgb([120, 120, 130]);
const WHITE_KEY: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK_KEY: Rgb<u8> = Rgb([45, 45, 50]);
const KEY_EDGE: Rgb<u8> = Rgb([170, 170, 180]);
const LABEL: RGBColor = RGBColor(50, 50, 60);

/// The layout: where ticks and pitches land in the picture.
struct Layout {
    /// Pixels per tick.
    scale: f64,
    /// Lowest and highest pitch shown.
    low: u8,
    high: u8,
    width: u32,
    height: u32,
}

impl Layout {
    /// Column of `tick`.
    fn x(&self, tick: u64) -> u32 {
        LEFT + (tick as f64 * self.scale).round() as u32
    }

    /// Top row of `pitch`'s lane.
    fn y(&self, pitch: u8) -> u32 {
        TOP + u32::from(self.high - pitch) * ROW
    }
}

/// Draws `score`: time left to right with numbered bar lines and faint beat lines,
/// one lane per semitone from a little below its lowest note to a little above its
/// highest, named at each C beside a keyboard, velocity as the depth of the colour,
/// a hue per channel.
pub(super) fn piano_roll(score: &Score) -> Result<RgbImage, String> {
    let tpb = u64::from(score.ticks_per_beat.max(1));
    let end = score.end().max(1);
    // Bar lines up to the first at or after the last note, so the roll ends on one.
    let longest_bar = score
        .time_signatures
        .iter()
        .map(|s| u64::from(s.numerator) * 4 * tpb / u64::from(s.denominator.max(1)))
        .fold(4 * tpb, u64::max);
    let mut bars: Vec<u64> = Vec::new();
    for bar in score.bar_ticks(end.saturating_add(longest_bar)).take(MAX_BARS) {
        bars.push(bar);
        if bar >= end {
            break;
        }
    }
    let last = bars.last().copied().unwrap_or(end).max(end);
    let layout = layout(score, last);
    let mut image = RgbImage::from_pixel(layout.width, layout.height, BACKGROUND);
    let (left, right, bottom) = (LEFT, layout.x(last) + 1, layout.y(layout.low) + ROW);

    // Lanes: black keys shaded, a line under each C.
    for pitch in layout.low..=layout.high {
        let (y0, y1) = (layout.y(pitch), layout.y(pitch) + ROW);
        fill(&mut image, left, right, y0, y1, if is_black(pitch) { BLACK_ROW } else { WHITE_ROW });
        fill(&mut image, NAMES, LEFT - 1, y0, y1, WHITE_KEY);
        if is_black(pitch) {
            fill(&mut image, NAMES, NAMES + BLACK_KEY_LENGTH, y0 + 1, y1 - 1, BLACK_KEY);
        }
        if pitch % 12 == 0 {
            fill(&mut image, NAMES - 6, right, y1 - 1, y1, OCTAVE_LINE);
        } else if pitch % 12 == 5 {
            // The edge between E and F.
            fill(&mut image, NAMES, LEFT - 1, y1 - 1, y1, KEY_EDGE);
        }
    }
    fill(&mut image, NAMES, right, TOP, TOP + 1, KEY_EDGE);
    fill(&mut image, NAMES, right, bottom - 1, bottom, KEY_EDGE);
    fill(&mut image, NAMES, NAMES + 1, TOP, bottom, KEY_EDGE);
    fill(&mut image, LEFT - 1, LEFT, TOP, bottom, KEY_EDGE);

    // Beats (quarter notes from each bar line), where they are far enough apart.
    if layout.scale * tpb as f64 >= 8.0 {
        for pair in bars.windows(2) {
            for beat in (pair[0] + tpb..pair[1]).step_by(tpb as usize) {
                fill(&mut image, layout.x(beat), layout.x(beat) + 1, TOP, bottom, BEAT_LINE);
            }
        }
    }
    // Bar lines, with a tick into the row of bar numbers.
    for &bar in &bars {
        let x = layout.x(bar).min(right - 1);
        fill(&mut image, x, x + 1, TOP - 5, bottom, BAR_LINE);
    }

    for note in &score.notes {
        let depth = 0.3 + 0.7 * f64::from(note.velocity.min(127)) / 127.0;
        let [r, g, b] = hue(note.channel);
        let shade = |c: u8| (255.0 - (255.0 - f64::from(c)) * depth) as u8;
        let colour = Rgb([shade(r), shade(g), shade(b)]);
        let x0 = layout.x(note.start) + 1;
        let x1 = layout.x(note.end()).max(x0 + 2);
        // A pixel of gap at the end keeps repeated notes apart.
        let x1 = if x1 - x0 > 3 { x1 - 1 } else { x1 };
        let y = layout.y(note.pitch);
        fill(&mut image, x0, x1, y + 1, y + ROW - 1, colour);
    }

    labels(&mut image, &layout, &bars, last)?;
    Ok(image)
}

/// The picture's size and scale for `score` drawn up to tick `last`.
fn layout(score: &Score, last: u64) -> Layout {
    let tpb = f64::from(score.ticks_per_beat.max(1));
    let span = last.max(1) as f64;
    let roll = |width: u32| f64::from(width - LEFT - RIGHT - 1);
    let scale = (PIXELS_PER_BEAT / tpb).max(roll(MIN_WIDTH) / span).min(roll(MAX_WIDTH) / span);
    let lowest = score.notes.iter().map(|n| n.pitch.min(127)).min().unwrap_or(60);
    let highest = score.notes.iter().map(|n| n.pitch.min(127)).max().unwrap_or(72);
    let mut low = lowest.saturating_sub(MARGIN);
    let mut high = highest.saturating_add(MARGIN).min(127);
    // Widen a narrow range evenly, up and down, to at least MIN_ROWS semitones.
    while high - low + 1 < MIN_ROWS && (low > 0 || high < 127) {
        if high < 127 {
            high += 1;
        }
        if high - low + 1 < MIN_ROWS && low > 0 {
            low -= 1;
        }
    }
    let rows = u32::from(high - low) + 1;
    let width = LEFT + (last as f64 * scale).round() as u32 + 1 + RIGHT;
    Layout { scale, low, high, width, height: TOP + rows * ROW + BOTTOM }
}

/// Writes the pitch names (each C, as C4 for middle C) and the bar numbers (every
/// bar, or every 2nd, 4th, ... where bars are too narrow for each to have one).
fn labels(image: &mut RgbImage, layout: &Layout, bars: &[u64], last: u64) -> Result<(), String> {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    // The font is compiled in, so pictures need no system fonts.
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
    let (width, height) = image.dimensions();
    let area = BitMapBackend::with_buffer(image, (width, height)).into_drawing_area();
    let fail = |e: &dyn std::fmt::Display| format!("cannot draw the piano roll's labels: {e}");
    let font = (FONT, FONT_SIZE).into_font().color(&LABEL);
    let names = font.clone().pos(Pos::new(HPos::Right, VPos::Center));
    for pitch in (layout.low..=layout.high).filter(|p| p % 12 == 0) {
        let y = layout.y(pitch) + ROW / 2;
        let name = format!("C{}", i32::from(pitch / 12) - 1);
        area.draw(&Text::new(name, (NAMES as i32 - 5, y as i32), names.clone())).map_err(|e| fail(&e))?;
    }
    let numbers = font.pos(Pos::new(HPos::Left, VPos::Center));
    let starts: Vec<u64> = bars.iter().copied().filter(|&b| b < last).collect();
    let narrowest = bars.windows(2).map(|p| layout.x(p[1]) - layout.x(p[0])).min().unwrap_or(u32::MAX);
    let digits = starts.len().to_string().len() as u32;
    let needed = digits * 9 + 8;
    let every = [1usize, 2, 4, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
        .into_iter()
        .find(|&k| narrowest.saturating_mul(k as u32) >= needed)
        .unwrap_or(MAX_BARS);
    for (i, &bar) in starts.iter().enumerate().step_by(every) {
        let at = (layout.x(bar) as i32 + 4, (TOP / 2) as i32 - 1);
        area.draw(&Text::new((i + 1).to_string(), at, numbers.clone())).map_err(|e| fail(&e))?;
    }
    area.present().map_err(|e| fail(&e))
}

/// Whether `pitch` is a black key.
fn is_black(pitch: u8) -> bool {
    matches!(pitch % 12, 1 | 3 | 6 | 8 | 10)
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
