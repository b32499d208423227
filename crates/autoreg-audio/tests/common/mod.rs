//! Helpers shared by the integration tests: synthetic WAV files.

use hound::{SampleFormat, WavSpec, WavWriter};
use std::io::Cursor;

/// A sample format that the tokenizer reads.
#[derive(Clone, Copy, Debug)]
pub enum Format {
    Int(u16),
    Float,
}

/// All formats the tokenizer supports.
pub const FORMATS: [Format; 5] = [Format::Int(8), Format::Int(16), Format::Int(24), Format::Int(32), Format::Float];

/// A sine of `freq` Hz and amplitude `amp`, `seconds` long at `rate` Hz.
pub fn sine(freq: f64, amp: f64, rate: u32, seconds: f64) -> Vec<f64> {
    let n = (seconds * f64::from(rate)).round() as usize;
    (0..n).map(|i| amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()).collect()
}

/// WAV bytes of `channels` (each a list of samples in [-1, 1], all of the same length).
pub fn wav(channels: &[Vec<f64>], rate: u32, format: Format) -> Vec<u8> {
    let (bits, sample_format) = match format {
        Format::Int(bits) => (bits, SampleFormat::Int),
        Format::Float => (32, SampleFormat::Float),
    };
    let spec = WavSpec { channels: channels.len() as u16, sample_rate: rate, bits_per_sample: bits, sample_format };
    let mut cursor = Cursor::new(Vec::new());
    let mut writer = WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            let x = ch[i];
            match format {
                Format::Int(8) => writer.write_sample((x * 127.0).round() as i8).unwrap(),
                Format::Int(16) => writer.write_sample((x * 32767.0).round() as i16).unwrap(),
                Format::Int(bits) => {
                    writer.write_sample((x * ((1i64 << (bits - 1)) - 1) as f64).round() as i32).unwrap()
                }
                Format::Float => writer.write_sample(x as f32).unwrap(),
            }
        }
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

/// Mono WAV bytes, 16-bit.
pub fn wav16(samples: &[f64], rate: u32) -> Vec<u8> {
    wav(&[samples.to_vec()], rate, Format::Int(16))
}
