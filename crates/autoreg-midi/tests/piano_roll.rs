//! The piano roll: a size a person reads, bar numbers and pitch names.

mod common;

use autoreg_midi::{Note, Score, TimeSignature, render_piano_roll};
use image::RgbImage;

/// A tune of `bars` bars of 4/4 at 480 ticks per beat: a quarter note per beat, G4
/// and the note `span` semitones above it in turn.
fn tune(bars: u64, span: u8) -> Score {
    let notes = (0..bars * 4)
        .map(|beat| {
            let pitch = 67 + if beat % 2 == 0 { 0 } else { span };
            Note { start: beat * 480, duration: 480, pitch, velocity: 90, program: 0, channel: 0 }
        })
        .collect();
    Score {
        ticks_per_beat: 480,
        notes,
        tempos: vec![],
        time_signatures: vec![TimeSignature { tick: 0, numerator: 4, denominator: 4 }],
    }
}

fn render(score: &Score) -> RgbImage {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roll.png");
    render_piano_roll(score, &path).unwrap();
    image::open(&path).unwrap().to_rgb8()
}

/// Pixels in columns `x0..x1` that are not near white.
fn inked(image: &RgbImage, x0: u32, x1: u32, y0: u32, y1: u32) -> usize {
    (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| image.get_pixel(x, y).0[0] < 160).count()
}

#[test]
fn a_four_bar_tune_is_drawn_at_a_readable_size_with_labels() {
    let roll = render(&tune(4, 7));
    let (width, height) = roll.dimensions();
    // A short tune is stretched to 800 pixels; at least 8 a semitone over the 8 used.
    assert!(width >= 800, "{width}");
    assert!(height >= 8 * 8, "{height}");
    assert!(width <= 1200 && height <= 400, "{width}x{height}");
    // The pitch names left of the keyboard (C5 is among the pitches shown) and the bar
    // numbers along the top are drawn in ink.
    assert!(inked(&roll, 0, 30, 20, height) > 20, "no pitch names");
    assert!(inked(&roll, 60, width, 0, 14) > 20, "no bar numbers");
}

#[test]
fn the_piano_roll_grows_with_bars_and_pitch_range() {
    // At least 16 pixels a beat once a tune is longer than the narrowest picture, and
    // at least 8 a semitone.
    let (short, long) = (render(&tune(4, 7)).dimensions(), render(&tune(33, 7)).dimensions());
    assert!(long.0 >= 33 * 4 * 16, "{short:?} then {long:?}");
    assert!(long.0 >= short.0 + 29 * 4 * 16, "{short:?} then {long:?}");
    assert_eq!(short.1, long.1);
    let wide = render(&tune(4, 24)).dimensions();
    assert_eq!(wide.0, short.0);
    assert!(wide.1 >= short.1 + 17 * 8, "{short:?} then {wide:?}");
    // Very long pieces are shrunk to a bounded width.
    assert!(render(&tune(2000, 7)).width() <= 4000);
}

#[test]
fn a_real_tune_renders_with_every_bar() {
    let dir = common::data_dir("nottingham/melody");
    let path = common::midi_files(&dir).into_iter().next().unwrap();
    let score = Score::from_midi(&std::fs::read(&path).unwrap(), &path.display().to_string()).unwrap();
    let out = std::env::temp_dir().join(format!("autoreg-midi-roll-{}.png", std::process::id()));
    render_piano_roll(&score, &out).unwrap();
    let roll = image::open(&out).unwrap().to_rgb8();
    std::fs::remove_file(&out).unwrap();
    let bars = score.bar_ticks(score.end()).count() as u32;
    assert!(roll.width() >= 800.max(bars * 40), "{} px for {bars} bars", roll.width());
}
