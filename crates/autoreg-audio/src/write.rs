//! Writing samples as a 16-bit PCM WAV file in memory.

use autoreg_tokens::TokenError;
use hound::{SampleFormat, WavSpec, WavWriter};
use std::io::Cursor;

/// The bytes of a mono 16-bit PCM WAV file holding `samples` (clamped to `[-1, 1]`)
/// at `rate` Hz.
pub(crate) fn wav_bytes(samples: &[f32], rate: u32) -> Result<Vec<u8>, TokenError> {
    let bad = |e: hound::Error| TokenError::format("decoded audio", format!("cannot write WAV: {e}"));
    let spec = WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: SampleFormat::Int };
    let mut cursor = Cursor::new(Vec::new());
    let mut writer = WavWriter::new(&mut cursor, spec).map_err(bad)?;
    for &s in samples {
        writer.write_sample((s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16).map_err(bad)?;
    }
    writer.finalize().map_err(bad)?;
    Ok(cursor.into_inner())
}
