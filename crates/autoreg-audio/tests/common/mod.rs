//! Helpers shared by the integration tests: a sine and a 16-bit WAV file of it.

use hound::{SampleFormat, WavSpec, WavWriter};
use std::io::Cursor;

/// A sine of `freq` Hz and amplitude `amp`, `seconds` long at `rate` Hz.
pub fn sine(freq: f64, amp: f64, rate: u32, seconds: f64) -> Vec<f64> {
    let n = (seconds * f64::from(rate)).round() as usize;
    (0..n).map(|i| amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()).collect()
}

/// Mono 16-bit PCM WAV bytes of `samples` (in [-1, 1]) at `rate` Hz.
pub fn wav16(samples: &[f64], rate: u32) -> Vec<u8> {
    let spec = WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: SampleFormat::Int };
    let mut cursor = Cursor::new(Vec::new());
    let mut writer = WavWriter::new(&mut cursor, spec).unwrap();
    for &x in samples {
        writer.write_sample((x * 32767.0).round() as i16).unwrap();
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}
