//! Odd, hostile and broken WAV files: always an error naming the file, never a panic
//! or an abort.

mod common;

use autoreg_audio::{AudioConfig, AudioTokenizer};
use autoreg_tokens::{ModalityBuilder, testing::Tokenize};
use common::{sine, wav16};

/// The fields of a PCM `fmt ` chunk.
#[derive(Clone, Copy)]
struct Fmt {
    tag: u16,
    channels: u16,
    rate: u32,
    block_align: u16,
    bits: u16,
}

/// A WAV file of `fmt` whose `data` chunk declares `declared` bytes and holds `body`.
fn wav(fmt: Fmt, declared: u32, body: &[u8]) -> Vec<u8> {
    let mut b = b"RIFF".to_vec();
    b.extend((36 + body.len() as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(fmt.tag.to_le_bytes());
    b.extend(fmt.channels.to_le_bytes());
    b.extend(fmt.rate.to_le_bytes());
    b.extend((fmt.rate * u32::from(fmt.block_align)).to_le_bytes());
    b.extend(fmt.block_align.to_le_bytes());
    b.extend(fmt.bits.to_le_bytes());
    b.extend(b"data");
    b.extend(declared.to_le_bytes());
    b.extend(body);
    b
}

/// Mono 16-bit PCM at 8 kHz.
const PCM16: Fmt = Fmt { tag: 1, channels: 1, rate: 8000, block_align: 2, bits: 16 };

fn tokenizer() -> AudioTokenizer {
    AudioConfig::default().build(&[]).unwrap()
}

/// The reason of the error that encoding `bytes` as `name` gives; panics when it succeeds
/// or when the error does not start with the name.
fn refused(tok: &AudioTokenizer, bytes: &[u8], name: &str) -> String {
    let err = tok.encode_bytes(bytes, name).expect_err(name).to_string();
    assert!(err.starts_with(&format!("{name}: ")), "{err}");
    err
}

#[test]
fn odd_headers_are_refused_naming_the_file() {
    let tok = tokenizer();
    let body = [0u8; 40];
    assert_eq!(tok.encode_bytes(&wav(PCM16, 40, &body), "fine.wav").unwrap()[0].len(), 20 + 2);
    let cases = [
        (Fmt { channels: 0, ..PCM16 }, 40, "zero channels"),
        (Fmt { rate: 0, ..PCM16 }, 40, "sample rate 0 Hz is outside"),
        (Fmt { tag: 3, block_align: 8, bits: 64, ..PCM16 }, 40, "not a readable WAV"),
        (Fmt { block_align: 2, bits: 12, ..PCM16 }, 40, "not a multiple of 8"),
        (Fmt { block_align: 1, bits: 16, ..PCM16 }, 40, "exceeds size of sample"),
        (Fmt { tag: 2, ..PCM16 }, 40, "not a readable WAV"),
        (PCM16, 39, "not a readable WAV"),
        // A data chunk that claims 4 GiB, in a file of 84 bytes.
        (PCM16, 0xffff_fffe, "truncated: the header declares 2147483647 samples"),
        (Fmt { channels: 2, block_align: 2, bits: 8, ..PCM16 }, 0xffff_fffe, "truncated"),
    ];
    for (i, (fmt, declared, reason)) in cases.into_iter().enumerate() {
        let name = format!("odd/{i}.wav");
        let err = refused(&tok, &wav(fmt, declared, &body), &name);
        assert!(err.contains(reason), "case {i}: {err}");
    }
}

#[test]
fn twenty_four_bit_and_float_headers_written_by_hand_are_read() {
    let tok = tokenizer();
    // Two samples at half scale, then at minus half scale.
    let bytes = wav(Fmt { block_align: 3, bits: 24, ..PCM16 }, 6, &[0, 0, 0x40, 0, 0, 0xc0]);
    let samples = tok.load_samples(&bytes, "deep.wav").unwrap();
    assert_eq!(samples, [0.5, -0.5]);
    let float: Vec<u8> = [0.25f32, -1.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let bytes = wav(Fmt { tag: 3, block_align: 4, bits: 32, ..PCM16 }, 8, &float);
    assert_eq!(tok.load_samples(&bytes, "float.wav").unwrap(), [0.25, -1.0]);
}

#[test]
fn every_single_byte_change_and_every_cut_is_handled() {
    let tok = tokenizer();
    let good = wav16(&sine(440.0, 0.5, 8000, 0.02), 8000);
    let (mut read, mut refused_count) = (0, 0);
    for position in 0..good.len().min(64) {
        for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut bytes = good.clone();
            bytes[position] = value;
            match tok.encode_bytes(&bytes, "mutant.wav") {
                Ok(docs) => {
                    read += 1;
                    assert!(docs.iter().all(|d| d.len() >= 2), "byte {position} = {value}");
                }
                Err(e) => {
                    refused_count += 1;
                    assert!(e.to_string().starts_with("mutant.wav: "), "byte {position} = {value}: {e}");
                }
            }
        }
    }
    assert!(read > 0 && refused_count > 0, "{read} read, {refused_count} refused");
    for len in 0..good.len() {
        if let Err(e) = tok.encode_bytes(&good[..len], "cut.wav") {
            assert!(e.to_string().starts_with("cut.wav: "), "{len} bytes: {e}");
        }
    }
}

#[test]
fn resampling_to_more_samples_than_allowed_is_refused_before_it_starts() {
    let tok = tokenizer();
    // 40,000 samples at 1 Hz would become 320 million at 8 kHz.
    let bytes = wav16(&vec![0.1; 40_000], 1);
    let err = refused(&tok, &bytes, "slow.wav");
    assert!(err.contains("cannot resample 1 Hz to 8000 Hz") && err.contains("more than the 268435456"), "{err}");
}

#[test]
fn numeric_settings_out_of_range_are_refused_naming_the_key() {
    for (config, reason) in [
        (
            AudioConfig { max_samples: (1 << 28) + 1, ..AudioConfig::default() },
            "`max_samples` must be at most 268435456",
        ),
        (AudioConfig { sample_rate: 768_001, ..AudioConfig::default() }, "`sample_rate` must be between 1 and 768000"),
        (AudioConfig { trim_silence: Some(f32::NAN), ..AudioConfig::default() }, "`trim_silence`"),
        (AudioConfig { trim_silence: Some(f32::INFINITY), ..AudioConfig::default() }, "`trim_silence`"),
        (AudioConfig { trim_silence: Some(1.0), ..AudioConfig::default() }, "`trim_silence`"),
    ] {
        let err = config.build(&[]).unwrap_err().to_string();
        assert!(err.contains(reason), "{err}");
    }
    let longest = AudioConfig { max_samples: 1 << 28, ..AudioConfig::default() };
    assert_eq!(longest.build(&[]).unwrap().config().max_samples, 1 << 28);
}
