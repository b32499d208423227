//! Reading WAV files of every supported format, channel count and rate.

mod common;

use autoreg_audio::{AudioConfig, AudioTokenizer};
use autoreg_tokens::{ModalityBuilder, TokenError, testing::Tokenize};
use common::{sine, wav16};
use hound::{SampleFormat, WavSpec, WavWriter};
use std::io::Cursor;

/// A sample format that the tokenizer reads.
#[derive(Clone, Copy, Debug)]
enum Format {
    Int(u16),
    Float,
}

/// All formats the tokenizer supports.
const FORMATS: [Format; 5] = [Format::Int(8), Format::Int(16), Format::Int(24), Format::Int(32), Format::Float];

/// WAV bytes of `channels` (each a list of samples in [-1, 1], all of the same length).
fn wav(channels: &[Vec<f64>], rate: u32, format: Format) -> Vec<u8> {
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

fn tokenizer(config: AudioConfig) -> AudioTokenizer {
    config.build(&[]).unwrap()
}

/// Frequency from the zero crossings and amplitude from the RMS of a sine.
fn frequency_and_amplitude(samples: &[f32], rate: u32) -> (f64, f64) {
    let crossings = samples.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    let seconds = (samples.len() - 1) as f64 / f64::from(rate);
    let rms = (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    (crossings as f64 / 2.0 / seconds, rms * 2f64.sqrt())
}

#[test]
fn every_format_channel_count_and_rate_keeps_a_sine() {
    let tok = tokenizer(AudioConfig::default());
    for rate in [8000, 16000, 44100, 22050] {
        for format in FORMATS {
            for channels in [1, 2] {
                // 500 Hz at 0.4, or the left channel at 0.6 and the right at 0.2: mixed down to 0.4.
                let amps: &[f64] = if channels == 1 { &[0.4] } else { &[0.6, 0.2] };
                let data: Vec<Vec<f64>> = amps.iter().map(|&amp| sine(500.0, amp, rate, 0.5)).collect();
                let what = format!("{format:?}, {channels} channels, {rate} Hz");
                let samples = tok.load_samples(&wav(&data, rate, format), "sine.wav").unwrap();
                let n = data[0].len() as u64;
                assert_eq!(samples.len() as u64, (n * 8000).div_ceil(u64::from(rate)), "{what}");
                // Away from the edges, where the resampling filter rings.
                let middle = &samples[samples.len() / 10..samples.len() * 9 / 10];
                let (freq, amp) = frequency_and_amplitude(middle, 8000);
                assert!((freq - 500.0).abs() < 10.0, "{what}: {freq} Hz");
                let tolerance = if matches!(format, Format::Int(8)) { 0.02 } else { 0.01 };
                assert!((amp - 0.4).abs() < tolerance, "{what}: amplitude {amp}");
            }
        }
    }
}

#[test]
fn downsampling_removes_what_the_new_rate_cannot_hold() {
    // 6 kHz is above the 4 kHz Nyquist limit of 8 kHz: it must not fold back as an alias.
    let tok = tokenizer(AudioConfig::default());
    let samples = tok.load_samples(&wav16(&sine(6000.0, 0.5, 44100, 0.5), 44100), "high.wav").unwrap();
    let middle = &samples[400..3600];
    let peak = middle.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak < 0.02, "alias of 6 kHz left at {peak}");
}

#[test]
fn upsampling_keeps_length_and_tone() {
    let tok = tokenizer(AudioConfig { sample_rate: 16000, ..AudioConfig::default() });
    let samples = tok.load_samples(&wav16(&sine(300.0, 0.5, 8000, 1.0), 8000), "up.wav").unwrap();
    assert_eq!(samples.len(), 16000);
    let (freq, amp) = frequency_and_amplitude(&samples[1600..14400], 16000);
    assert!((freq - 300.0).abs() < 5.0 && (amp - 0.5).abs() < 0.01, "{freq} Hz, {amp}");
}

#[test]
fn normalisation_and_trimming() {
    let mut signal = vec![0.0; 800];
    signal.extend(sine(200.0, 0.25, 8000, 0.5));
    signal.extend(vec![0.0; 1200]);
    let bytes = wav16(&signal, 8000);
    let plain = tokenizer(AudioConfig::default()).load_samples(&bytes, "quiet.wav").unwrap();
    assert_eq!(plain.len(), signal.len());
    let config = AudioConfig { normalize: true, trim_silence: Some(0.01), ..AudioConfig::default() };
    let shaped = tokenizer(config).load_samples(&bytes, "quiet.wav").unwrap();
    let peak = shaped.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!((peak - 1.0).abs() < 1e-6, "peak {peak}");
    // Only the sine is left; its first and last samples near zero may be trimmed too.
    assert!((3990..=4000).contains(&shaped.len()), "{} samples", shaped.len());
}

fn format_error(result: Result<Vec<Vec<u32>>, TokenError>) -> (String, String) {
    match result {
        Err(TokenError::Format { name, reason }) => (name, reason),
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn truncated_and_corrupt_files_are_errors_naming_the_file() {
    let tok = tokenizer(AudioConfig::default());
    let good = wav16(&sine(440.0, 0.5, 8000, 0.25), 8000);
    let (name, reason) = format_error(tok.encode_bytes(&good[..good.len() / 2], "data/cut.wav"));
    assert_eq!(name, "data/cut.wav");
    assert!(reason.contains("truncated") && reason.contains("2000 samples"), "{reason}");

    let (name, reason) = format_error(tok.encode_bytes(&good[..30], "data/header.wav"));
    assert_eq!(name, "data/header.wav");
    assert!(reason.contains("not a readable WAV"), "{reason}");

    let mut garbage = good.clone();
    garbage[8..12].copy_from_slice(b"AVI ");
    let (name, reason) = format_error(tok.encode_bytes(&garbage, "data/garbage.wav"));
    assert_eq!(name, "data/garbage.wav");
    assert!(reason.contains("not a readable WAV"), "{reason}");

    // A consistent header (rate and byte rate) declaring a rate too high to resample.
    let mut fast = good.clone();
    fast[24..28].copy_from_slice(&1_000_000u32.to_le_bytes());
    fast[28..32].copy_from_slice(&2_000_000u32.to_le_bytes());
    let (_, reason) = format_error(tok.encode_bytes(&fast, "rate.wav"));
    assert!(reason.contains("sample rate 1000000 Hz is outside"), "{reason}");

    let nan = wav(&[vec![0.0, f64::NAN, 0.5]], 8000, Format::Float);
    let (_, reason) = format_error(tok.encode_bytes(&nan, "nan.wav"));
    assert!(reason.contains("sample 1 is not a finite number"), "{reason}");

    let err = tok.encode_bytes(b"", "empty.wav").unwrap_err().to_string();
    assert!(err.starts_with("empty.wav: "), "{err}");
}
