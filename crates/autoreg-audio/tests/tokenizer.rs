//! The tokenizer: documents, labels, windows, prompts, decoding and saving.

mod common;

use autoreg_audio::{AudioConfig, AudioTokenizer, Quantization};
use autoreg_tokens::{Modality, ModalityBuilder, TokenError, testing::Tokenize};
use common::{sine, wav16};
use std::io::Cursor;
use std::path::PathBuf;

/// A conditional tokenizer fitted on FSDD-style names of digits 0, 3 and 7.
fn digits() -> AudioTokenizer {
    let files: Vec<PathBuf> = [
        "data/7_jackson_0.wav",
        "data/0_theo_12.wav",
        "data/3_yweweler_5.wav",
        "data/7_nicolas_3.wav",
        "data/notes.wav",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    AudioConfig { conditional: true, ..AudioConfig::default() }.build(&files).unwrap()
}

fn read_back(wav: &[u8]) -> (hound::WavSpec, Vec<i16>) {
    let mut reader = hound::WavReader::new(Cursor::new(wav)).unwrap();
    let samples = reader.samples::<i16>().collect::<Result<_, _>>().unwrap();
    (reader.spec(), samples)
}

#[test]
fn documents_are_bos_samples_eos_and_round_trip() {
    let tok = AudioConfig::default().build(&[]).unwrap();
    assert_eq!(tok.vocab_size(), 256 + 3);
    assert!(tok.classes().is_empty());
    let signal = sine(440.0, 0.5, 8000, 0.5);
    let docs = tok.encode_bytes(&wav16(&signal, 8000), "a.wav").unwrap();
    assert_eq!(docs.len(), 1);
    let s = tok.specials();
    assert_eq!((docs[0][0], docs[0][docs[0].len() - 1]), (s.bos, s.eos));
    assert_eq!(docs[0].len(), signal.len() + 2);
    assert_eq!(tok.count_units(&docs[0]), signal.len());
    assert_eq!(tok.unit(), Some("sample"));
    let (spec, decoded) = read_back(&tok.decode_bytes(&docs[0]).unwrap());
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 8000, 16));
    let decoded: Vec<f32> = decoded.iter().map(|&v| f32::from(v) / 32768.0).collect();
    let reference: Vec<f32> = signal.iter().map(|&v| v as f32).collect();
    let snr = autoreg_audio::snr_db(&reference, &decoded);
    assert!(snr > 30.0, "{snr} dB");
    assert!((snr - tok.round_trip_snr_db(&reference)).abs() < 1.0);
}

#[test]
fn ten_bit_and_linear_quantization_change_vocabulary_and_precision() {
    let signal: Vec<f32> = sine(440.0, 0.3, 8000, 0.25).iter().map(|&v| v as f32).collect();
    let snr = |quantization, bits| {
        let tok = AudioConfig { quantization, bits, ..AudioConfig::default() }.build(&[]).unwrap();
        assert_eq!(tok.vocab_size(), (1 << bits) + 3);
        assert!(tok.quantize(&signal).iter().all(|&t| t < 1 << bits));
        tok.round_trip_snr_db(&signal)
    };
    let (mu8, mu10, lin8, lin10) = (
        snr(Quantization::MuLaw, 8),
        snr(Quantization::MuLaw, 10),
        snr(Quantization::Linear, 8),
        snr(Quantization::Linear, 10),
    );
    // Two more bits: about 12 dB more.
    assert!(mu10 > mu8 + 9.0 && lin10 > lin8 + 9.0, "{mu8} {mu10} {lin8} {lin10}");
}

#[test]
fn conditional_documents_carry_the_label_from_the_file_name() {
    let tok = digits();
    assert_eq!(tok.classes(), ["0", "3", "7"]);
    assert_eq!(tok.vocab_size(), 256 + 3 + 3);
    let s = tok.specials();
    let bytes = wav16(&sine(300.0, 0.5, 8000, 0.1), 8000);
    let docs = tok.encode_bytes(&bytes, "/somewhere/3_lucas_9.wav").unwrap();
    assert_eq!(docs[0][..2], [s.bos, 256 + 1]);
    assert_eq!(tok.token_name(257).as_deref(), Some("Label_3"));
    assert_eq!(tok.token_name(12).as_deref(), Some("Sample_12"));
    assert_eq!(tok.token_name(s.eos).as_deref(), Some("<eos>"));
    assert_eq!(tok.token_name(s.pad + 1), None);
    assert_eq!(tok.count_units(&docs[0]), 800);
    assert_eq!(tok.class_prompt(2).unwrap(), [s.bos, 256 + 2]);

    let err = tok.encode_bytes(&bytes, "data/recording.wav").unwrap_err().to_string();
    assert_eq!(err, r#"data/recording.wav: the file name does not match the label pattern "{label}_{_}.wav""#);
    let err = tok.encode_bytes(&bytes, "data/5_theo_1.wav").unwrap_err().to_string();
    assert!(err.starts_with("data/5_theo_1.wav: label \"5\" is not one of the 3 classes"), "{err}");
    let err = tok.class_prompt(3).unwrap_err().to_string();
    assert_eq!(err, "--class: class 3 is out of range: there are 3 classes (0..2)");
    let plain = AudioConfig::default().build(&[]).unwrap();
    assert!(plain.class_prompt(0).unwrap_err().to_string().contains("no classes"));
    // Without `conditional`, names are not looked at.
    assert_eq!(plain.encode_bytes(&bytes, "data/recording.wav").unwrap()[0][0], plain.specials().bos);
}

#[test]
fn training_windows_keep_bos_and_the_label_as_the_prefix() {
    let tok = digits();
    let s = tok.specials();
    let bytes = wav16(&sine(300.0, 0.5, 8000, 0.1), 8000);
    let doc = &tok.encode_bytes(&bytes, "7_theo_2.wav").unwrap()[0];
    assert_eq!(doc[..2], [s.bos, 256 + 2]);
    assert_eq!(tok.prefix_len(doc), 2, "windows inside the recording keep BOS Label_7");
    // A prompt without a label, a sample right after BOS, and a bare BOS keep only BOS.
    assert_eq!(tok.prefix_len(&[s.bos, 12, 13]), 1);
    assert_eq!(tok.prefix_len(&[s.bos]), 1);
    assert_eq!(tok.prefix_len(&[s.bos, s.eos]), 1);
    let plain = AudioConfig::default().build(&[]).unwrap();
    assert_eq!(plain.prefix_len(&plain.encode_bytes(&bytes, "7_theo_2.wav").unwrap()[0]), 1);
}

#[test]
fn fitting_needs_a_matching_name_and_a_valid_config() {
    let conditional = AudioConfig { conditional: true, ..AudioConfig::default() };
    let err = conditional.build(&[PathBuf::from("a.wav")]).unwrap_err().to_string();
    assert!(err.contains("no file name matches the label pattern"), "{err}");
    for (config, key) in [
        (AudioConfig { bits: 1, ..AudioConfig::default() }, "`bits`"),
        (AudioConfig { bits: 17, ..AudioConfig::default() }, "`bits`"),
        (AudioConfig { sample_rate: 0, ..AudioConfig::default() }, "`sample_rate`"),
        (AudioConfig { trim_silence: Some(-0.1), ..AudioConfig::default() }, "`trim_silence`"),
        (AudioConfig { label_pattern: "{_}.wav".into(), ..AudioConfig::default() }, "`label_pattern`"),
    ] {
        let err = config.build(&[]).unwrap_err().to_string();
        assert!(err.starts_with("cannot fit the audio tokenizer: ") && err.contains(key), "{err}");
    }
}

#[test]
fn long_recordings_are_cut_into_windows() {
    let bytes = wav16(&sine(250.0, 0.5, 8000, 5.0), 8000);
    let tok = AudioConfig { max_samples: 16000, ..AudioConfig::default() }.build(&[]).unwrap();
    let docs = tok.encode_bytes(&bytes, "long.wav").unwrap();
    let lengths: Vec<usize> = docs.iter().map(|d| tok.count_units(d)).collect();
    assert_eq!(lengths, [16000, 16000, 8000]);
    let s = tok.specials();
    assert!(docs.iter().all(|d| d[0] == s.bos && d[d.len() - 1] == s.eos && d.len() == tok.count_units(d) + 2));
    // The windows are the recording, in order, without overlap.
    let joined: Vec<u32> = docs.iter().flat_map(|d| d[1..d.len() - 1].to_vec()).collect();
    assert_eq!(joined, tok.quantize(&tok.load_samples(&bytes, "long.wav").unwrap()));

    let labelled = AudioConfig { max_samples: 7000, conditional: true, ..AudioConfig::default() }
        .build(&[PathBuf::from("4_a_1.wav")])
        .unwrap();
    let docs = labelled.encode_bytes(&bytes, "4_b_2.wav").unwrap();
    assert_eq!(docs.len(), 6);
    assert!(docs.iter().all(|d| d[1] == 256 && labelled.count_units(d) <= 7000));

    let whole = AudioConfig { max_samples: 0, ..AudioConfig::default() }.build(&[]).unwrap();
    assert_eq!(whole.encode_bytes(&bytes, "long.wav").unwrap().len(), 1);
}

#[test]
fn prompts_keep_the_first_seconds_and_the_label() {
    let tok = digits();
    let bytes = wav16(&sine(250.0, 0.5, 8000, 3.0), 8000);
    let s = tok.specials();
    let prompt = tok.prompt_bytes(&bytes, "dir/7_x_1.wav", Some(0.25)).unwrap();
    assert_eq!(prompt[..2], [s.bos, 256 + 2]);
    assert_eq!(prompt.len(), 2 + 2000);
    assert_eq!(prompt[2..], tok.quantize(&tok.load_samples(&bytes, "x").unwrap())[..2000]);
    // No label in the name: the prompt starts with BOS alone.
    let prompt = tok.prompt_bytes(&bytes, "prompt.wav", None).unwrap();
    assert_eq!(prompt.len(), 1 + 24000);
    assert_eq!(prompt[0], s.bos);
    assert!(!prompt.contains(&s.eos));
    let err = tok.prompt_bytes(&bytes, "p.wav", Some(0.0)).unwrap_err().to_string();
    assert!(err.contains("must be positive"), "{err}");
    // A prompt longer than the recording is the whole recording.
    assert_eq!(tok.prompt_bytes(&bytes, "prompt.wav", Some(100.0)).unwrap().len(), 1 + 24000);
}

/// A small deterministic generator (64-bit LCG).
fn draws(seed: u64) -> impl Iterator<Item = u64> {
    std::iter::successors(Some(seed), |x| Some(x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407)))
        .map(|x| x >> 33)
}

#[test]
fn decode_never_panics_on_arbitrary_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let linear =
        AudioConfig { quantization: Quantization::Linear, bits: 10, ..AudioConfig::default() }.build(&[]).unwrap();
    for (t, tok) in [digits(), linear].iter().enumerate() {
        let vocab = tok.vocab_size() as u64;
        let s = tok.specials();
        let mut rng = draws(t as u64 + 1);
        for case in 0..300 {
            let len = rng.next().unwrap() % 400;
            // Mostly in range; the odd case holds ids past the vocabulary.
            let limit = if case % 10 == 0 { vocab + 5 } else { vocab };
            let tokens: Vec<u32> = (0..len).map(|_| (rng.next().unwrap() % limit) as u32).collect();
            match tok.decode_bytes(&tokens) {
                Ok(wav) => {
                    let expected = tokens.iter().take_while(|&&x| x != s.eos).filter(|&&x| x < tok.levels()).count();
                    assert_eq!(read_back(&wav).1.len(), expected);
                }
                Err(TokenError::OutOfRange { token, .. }) => assert!(u64::from(token) >= vocab),
                Err(e) => panic!("unexpected error {e}"),
            }
            if case % 50 == 0 && tokens.iter().all(|&x| u64::from(x) < vocab) {
                let path = dir.path().join(format!("s{t}_{case}.wav"));
                assert_eq!(tok.write_companions(&tokens, &path).unwrap(), [path.with_extension("png")]);
            }
        }
    }
}

#[test]
fn decode_skips_specials_and_labels_and_stops_at_eos() {
    let tok = digits();
    let s = tok.specials();
    let samples = tok.decode_samples(&[257, 0, s.bos, 255, 258, s.pad, 128, s.eos, 0, 0]);
    assert_eq!(samples.len(), 3);
    assert!((samples[0] + 1.0).abs() < 1e-5 && (samples[1] - 1.0).abs() < 1e-5, "{samples:?}");
    assert!(samples[2].abs() < 1e-3, "{samples:?}");
}

#[test]
fn companion_is_a_waveform_picture_beside_the_wav() {
    let dir = tempfile::tempdir().unwrap();
    let tok = AudioConfig::default().build(&[]).unwrap();
    // One second of a loud tone, then one second of silence.
    let mut signal = sine(440.0, 0.9, 8000, 1.0);
    signal.extend(vec![0.0; 8000]);
    let doc = &tok.encode_bytes(&wav16(&signal, 8000), "tone.wav").unwrap()[0];
    let wav_path = dir.path().join("sample.wav");
    tok.decode_to_file(doc, &wav_path).unwrap();
    let written = tok.write_companions(doc, &wav_path).unwrap();
    assert_eq!(written, [dir.path().join("sample.png")]);
    let img = image::open(&written[0]).unwrap().to_rgb8();
    let dark_rows = |x: u32| (0..img.height()).filter(|&y| img.get_pixel(x, y)[0] < 100).count();
    // The tone fills most of the height in the first half, silence is a thin line.
    assert!(dark_rows(img.width() / 4) as f64 > 0.8 * f64::from(img.height()), "{}", dark_rows(img.width() / 4));
    assert!(dark_rows(img.width() * 3 / 4) <= 2, "{}", dark_rows(img.width() * 3 / 4));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn saved_form_is_an_object_and_is_validated() {
    let tok = digits();
    let json = serde_json::to_value(&tok).unwrap();
    assert!(json.is_object() && json.get("kind").is_none());
    assert_eq!(json["classes"], serde_json::json!(["0", "3", "7"]));
    assert_eq!(json["config"]["quantization"], "mu-law");
    let back: AudioTokenizer = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, tok);
    let mut unsorted = json.clone();
    unsorted["classes"] = serde_json::json!(["7", "0"]);
    assert!(serde_json::from_value::<AudioTokenizer>(unsorted).unwrap_err().to_string().contains("sorted"));
    let mut bad_bits = json.clone();
    bad_bits["config"]["bits"] = 20.into();
    assert!(serde_json::from_value::<AudioTokenizer>(bad_bits).unwrap_err().to_string().contains("`bits`"));
    let mut unknown = json;
    unknown["config"]["rate"] = 8000.into();
    assert!(serde_json::from_value::<AudioTokenizer>(unknown).unwrap_err().to_string().contains("unknown field"));
}
