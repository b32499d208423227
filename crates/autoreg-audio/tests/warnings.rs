//! Lossy conversions (channels mixed, resampling, finer samples) are each reported once
//! per tokenizer, naming the first file.

use autoreg_audio::{AudioConfig, AudioTokenizer};
use autoreg_tokens::testing::{keep_logs, logged};
use autoreg_tokens::{ModalityBuilder, testing::Tokenize};
use hound::{SampleFormat, WavSpec, WavWriter};
use std::io::Cursor;

/// A short WAV of `channels` at `rate` Hz, `bits`-bit integer samples.
fn wav(channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let spec = WavSpec { channels, sample_rate: rate, bits_per_sample: bits, sample_format: SampleFormat::Int };
    let mut cursor = Cursor::new(Vec::new());
    let mut writer = WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..200 * i32::from(channels) {
        writer.write_sample((i % 50) << (bits - 8)).unwrap();
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

fn tokenizer() -> AudioTokenizer {
    AudioConfig::default().build(&[]).unwrap()
}

#[test]
fn two_stereo_files_give_one_warning_naming_the_first() {
    keep_logs();
    let tok = tokenizer();
    for name in ["stereo-a.wav", "stereo-b.wav"] {
        tok.encode_bytes(&wav(2, 8000, 16), name).unwrap();
    }
    assert_eq!(
        logged("stereo-"),
        ["WARN: stereo-a.wav is stereo: its channels are mixed to mono (said once; other files may be too)"]
    );
    // Plain mono 16-bit files at the tokenizer's rate are not reported.
    tok.encode_bytes(&wav(1, 8000, 16), "plain.wav").unwrap();
    assert!(logged("plain.wav").is_empty());
}

#[test]
fn each_kind_is_reported_once_per_tokenizer_and_again_after_loading() {
    keep_logs();
    let tok = tokenizer();
    for name in ["kinds-1.wav", "kinds-2.wav"] {
        tok.load_samples(&wav(3, 16000, 24), name).unwrap();
    }
    let said = logged("kinds-");
    assert_eq!(said.len(), 3, "{said:?}");
    assert!(said.iter().all(|m| m.starts_with("WARN: kinds-1.wav ")), "{said:?}");
    assert!(said[0].contains("has 3 channels: they are mixed to mono"), "{said:?}");
    assert!(said[1].contains("is 16000 Hz: it is resampled to 8000 Hz"), "{said:?}");
    assert!(said[2].contains("has 24-bit samples"), "{said:?}");
    // A clone has said what the original said; a loaded tokenizer starts afresh.
    tok.clone().load_samples(&wav(3, 16000, 24), "kinds-3.wav").unwrap();
    assert_eq!(logged("kinds-").len(), 3);
    let loaded: AudioTokenizer = serde_json::from_str(&serde_json::to_string(&tok).unwrap()).unwrap();
    loaded.load_samples(&wav(1, 16000, 16), "kinds-4.wav").unwrap();
    assert_eq!(
        logged("kinds-4.wav"),
        ["WARN: kinds-4.wav is 16000 Hz: it is resampled to 8000 Hz (said once; other files may be too)"]
    );
}
