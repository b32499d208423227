//! Pictures and sound for people: a piano-roll PNG and a WAV preview of a [`Score`].

mod roll;
mod synth;

use crate::score::Score;
use autoreg_tokens::{TokenError, write_atomic};
use std::path::{Path, PathBuf};

pub use synth::SAMPLE_RATE;

/// Writes a piano roll of `score` to `path` (PNG): time left to right with numbered
/// bar lines, pitch bottom to top with each C named (C4 is middle C) beside a
/// keyboard, velocity as shade, a colour per channel. A beat is at least 24 pixels
/// wide and a semitone 10 pixels high; a short tune is stretched to 800 pixels and a
/// long piece shrunk to 4,000.
pub fn render_piano_roll(score: &Score, path: &Path) -> Result<(), TokenError> {
    let image = roll::piano_roll(score).map_err(|e| TokenError::format(path.display().to_string(), e))?;
    let mut png = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| TokenError::format(path.display().to_string(), format!("cannot encode the PNG: {e}")))?;
    write_atomic(path, png.get_ref())
}

/// Writes an audio preview of `score` to `path`: a small additive synthesizer, mono
/// 16-bit WAV at [`SAMPLE_RATE`] Hz, at most ten minutes long.
pub fn render_preview_wav(score: &Score, path: &Path) -> Result<(), TokenError> {
    let samples = synth::synthesize(score);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let fail = |e: hound::Error| TokenError::format(path.display().to_string(), format!("cannot encode the WAV: {e}"));
    let mut wav = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut wav, spec).map_err(fail)?;
    for s in samples {
        writer.write_sample((s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16).map_err(fail)?;
    }
    writer.finalize().map_err(fail)?;
    write_atomic(path, wav.get_ref())
}

/// Reads the MIDI file at `mid_path` and writes its piano roll to `png_path` and its
/// audio preview to `wav_path` (for `autoreg render tune.mid`). It reads leniently, as
/// the tokenizer does: a damaged file (a truncated track, a malformed event, missing
/// tracks) gives what comes before the damage, which one warning names.
pub fn render_midi_file(mid_path: &Path, png_path: &Path, wav_path: &Path) -> Result<(), TokenError> {
    let bytes = std::fs::read(mid_path).map_err(|e| TokenError::io(mid_path, e))?;
    let name = mid_path.display().to_string();
    let (score, damage) = Score::read_midi(&bytes, &name, false)?;
    if let Some(damage) = damage {
        autoreg_tokens::warn(format!("{name}: {damage}"));
    }
    render_piano_roll(&score, png_path)?;
    render_preview_wav(&score, wav_path)
}

/// Renders the MIDI file at `path` into the folder `dir`, which must exist, named after
/// it: `tune.mid` gives `dir/tune.png` (its piano roll) and `dir/tune.wav` (its audio
/// preview); returns the files written, in that order. It reads leniently, as
/// [`render_midi_file`] does. `autoreg render` calls it for `.mid` and `.midi` files.
pub fn render_previews(path: &Path, dir: &Path) -> Result<Vec<PathBuf>, TokenError> {
    let stem = path.file_stem().ok_or_else(|| TokenError::format(path.display().to_string(), "names no file"))?;
    let named = |ext: &str| {
        let mut name = stem.to_os_string();
        name.push(ext);
        dir.join(name)
    };
    let (png, wav) = (named(".png"), named(".wav"));
    render_midi_file(path, &png, &wav)?;
    Ok(vec![png, wav])
}
