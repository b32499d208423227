//! The real recordings: the Free Spoken Digit Dataset (mono 16-bit, 8 kHz): all 3,000
//! under `AUTOREG_DATA`, else the 300 of the test split that the checkout carries (see
//! [`autoreg_data::find_data`]).

use autoreg_audio::{AudioConfig, AudioTokenizer, Quantization, snr_db};
use autoreg_tokens::{Modality, ModalityBuilder, testing::Tokenize};
use std::io::Cursor;
use std::path::PathBuf;

/// The FSDD recordings, sorted. Missing data fails the test.
fn recordings() -> Vec<PathBuf> {
    let dir = autoreg_data::find_data("fsdd/recordings").unwrap_or_else(|e| panic!("{e}"));
    let listing = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> =
        listing.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "wav")).collect();
    files.sort();
    // The full set under AUTOREG_DATA; the checkout carries its test split.
    let expected = if autoreg_data::full_data_sets() { 3000 } else { 300 };
    assert_eq!(files.len(), expected, "recordings in {}", dir.display());
    files
}

/// The samples of a 16-bit file, read directly with hound.
fn reference(bytes: &[u8]) -> Vec<f32> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 8000, 16));
    reader.samples::<i16>().map(|s| f32::from(s.unwrap()) / 32768.0).collect()
}

/// Pooled SNR over `files`: every document decoded, the signals joined.
fn pooled_snr(tok: &AudioTokenizer, files: &[PathBuf]) -> (f64, f64) {
    let (mut originals, mut decoded, mut per_file) = (Vec::new(), Vec::new(), Vec::new());
    for path in files {
        let bytes = std::fs::read(path).unwrap();
        let original = reference(&bytes);
        let docs = tok.encode_bytes(&bytes, &path.display().to_string()).unwrap();
        let mut back = Vec::with_capacity(original.len());
        for doc in &docs {
            back.extend(tok.decode_samples(doc));
        }
        assert_eq!(back.len(), original.len(), "{}", path.display());
        per_file.push(snr_db(&original, &back));
        originals.extend(original);
        decoded.extend(back);
    }
    (snr_db(&originals, &decoded), per_file.iter().sum::<f64>() / per_file.len() as f64)
}

#[test]
fn mu_law_round_trip_over_all_recordings() {
    let files = recordings();
    let tok = AudioConfig::default().build(&files).unwrap();
    let (pooled, mean) = pooled_snr(&tok, &files);
    println!(
        "8-bit mu-law over {} FSDD recordings: SNR {pooled:.2} dB pooled, {mean:.2} dB mean per file",
        files.len()
    );
    assert!(pooled > 30.0 && mean > 30.0, "pooled {pooled} dB, mean {mean} dB");

    // The decoded WAV bytes hold the same signal, 16-bit at 8 kHz.
    for path in files.iter().step_by(100) {
        let bytes = std::fs::read(path).unwrap();
        let original = reference(&bytes);
        let doc = &tok.encode_bytes(&bytes, "x").unwrap()[0];
        let wav = reference(&tok.decode_bytes(doc).unwrap());
        assert_eq!(wav.len(), original.len().min(16000));
        assert!(snr_db(&original, &wav) > 20.0, "{}", path.display());
    }
}

#[test]
fn mu_law_beats_linear_on_speech_and_ten_bits_beat_eight() {
    let files = recordings();
    let subset: Vec<PathBuf> = files.into_iter().step_by(10).collect();
    let snr = |quantization, bits| {
        let tok = AudioConfig { quantization, bits, ..AudioConfig::default() }.build(&[]).unwrap();
        pooled_snr(&tok, &subset).0
    };
    let (mu8, lin8, mu10) = (snr(Quantization::MuLaw, 8), snr(Quantization::Linear, 8), snr(Quantization::MuLaw, 10));
    println!(
        "{} recordings: mu-law 8-bit {mu8:.2} dB, linear 8-bit {lin8:.2} dB, mu-law 10-bit {mu10:.2} dB",
        subset.len()
    );
    assert!(mu8 > lin8, "mu-law {mu8} dB, linear {lin8} dB");
    assert!(mu10 > mu8 + 9.0, "10-bit {mu10} dB, 8-bit {mu8} dB");
}

#[test]
fn digit_labels_from_fsdd_names() {
    let files = recordings();
    let tok = AudioConfig { conditional: true, ..AudioConfig::default() }.build(&files).unwrap();
    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    assert_eq!(tok.classes(), digits);
    for path in files.iter().step_by(97) {
        let digit: u32 = path.file_name().unwrap().to_str().unwrap()[..1].parse().unwrap();
        let docs = tok.encode_file(path).unwrap();
        assert!(docs.iter().all(|d| d[0] == tok.specials().bos && d[1] == tok.levels() + digit), "{}", path.display());
    }
}
