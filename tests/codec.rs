//! Learned codecs end to end through the `autoreg` binary: a tiny audio codec trained
//! alone (`autoreg codec train`), reused by a mixed run with captions (`from`), which
//! trains, samples speech after a word, evaluates and resumes; its weights checked by
//! their checksum; and a single-source run that trains its codec inline and encodes
//! the recordings a user may give it (silence, 10 ms, 48 kHz stereo, ten minutes).

use crate::common::{Scratch, fails, ok, parse_wav, tiny_config};
use crate::mixed::{SHAKESPEARE, data, fsdd_source, sample_files, write_config};
use autoreg::SavedTokenizer;
use std::path::Path;

/// `[tokenizer.codec]` of a codec that trains in a second: 10 ms frames at 2 kHz, a
/// code per two frames (50 per second), 32 codes.
const TINY_CODEC: &str = "hop = 20\nframes_per_code = 2\ncodebook_size = 32\ncode_dim = 8\nchannels = 16\nsteps = 40\nbatch_size = 8\ncrop_frames = 16\ngriffin_lim = 4\n";

/// The FSDD source of the tiny mixed runs with `codec` as its `[sources.tokenizer.codec]`.
fn speech_source(codec: &str) -> String {
    fsdd_source(&format!("[sources.tokenizer.codec]\n{codec}\n"))
}

#[test]
fn a_codec_trained_alone_serves_a_mixed_run_that_speaks_after_a_word() {
    let s = Scratch::new();
    data(&s.path().join("data"));
    let runs = s.path().join("runs");

    // The codec alone.
    let codec_config = write_config(&s, "fsdd-codec", &speech_source(TINY_CODEC), 64, 10);
    let out = ok(s.path(), &["codec", "train", codec_config.to_str().unwrap()]);
    assert!(out.contains("32 codes, 50 per second (250 bits/s), trained 40 steps"), "{out}");
    assert!(out.contains("trained on 30 signals"), "the 30 training recordings: {out}");
    let codec_run = runs.join("fsdd-codec");
    let trained = SavedTokenizer::load(&codec_run.join("tokenizer.json")).unwrap();
    let checksum = trained.codecs()[0].checksum().to_owned();
    assert!(codec_run.join("codec-audio.safetensors").is_file());

    // A mixed run reuses it: the same weights, copied into its own directory.
    let from = format!("from = \"{}\"", codec_run.display());
    let config = write_config(&s, "speech", &(speech_source(&from) + SHAKESPEARE), 64, 20);
    let out = ok(s.path(), &["train", config.to_str().unwrap()]);
    assert!(out.contains("step 20"), "{out}");
    let run = runs.join("speech");
    let run_arg = run.to_str().unwrap();
    let tokenizer = SavedTokenizer::load(&run.join("tokenizer.json")).unwrap();
    assert_eq!(tokenizer.codecs().len(), 1);
    assert_eq!(tokenizer.codecs()[0].checksum(), checksum, "the codec of the run it came from");
    let audio = tokenizer.mixture().unwrap().part_named("audio").unwrap();
    let part = tokenizer.pipeline().parts().unwrap().part(audio);
    assert_eq!((part.token_name(0).as_deref(), part.vocab_size()), (Some("Code_0"), 32 + 3));
    let info = ok(s.path(), &["info", run_arg]);
    assert!(info.contains("codec      32 codes, 50 per second"), "{info}");

    // Speech after a word: a WAV of whole codes (40 samples each), with its waveform.
    let files = sample_files(&s, run_arg, "speech", &["--modality", "audio", "--text", "seven", "--max-tokens", "20"]);
    let wav = files.iter().find(|p| p.extension().is_some_and(|e| e == "wav")).expect("a recording");
    let wav = parse_wav(wav);
    assert_eq!(wav.rate, 2000);
    assert!(
        !wav.samples.is_empty() && wav.samples.len().is_multiple_of(40) && wav.samples.len() <= 20 * 40,
        "{}",
        wav.samples.len()
    );
    assert!(files.iter().any(|p| p.extension().is_some_and(|e| e == "png")), "{files:?}");

    // Evaluated per sample of audio, and resumed.
    let table = ok(s.path(), &["eval", run_arg]);
    assert_eq!(table.lines().filter(|l| l.starts_with("fsdd ")).count(), 4, "{table}");
    let out = ok(s.path(), &["train", "--resume", run_arg, "--set", "train.max_steps=22"]);
    assert!(out.contains("step 22"), "{out}");

    // Changed weights are refused by their checksum, naming the file.
    let weights = run.join("codec-audio.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&weights, &bytes).unwrap();
    let err = fails(s.path(), &["sample", run_arg, "--modality", "audio", "--text", "one"]);
    assert!(err.contains(&weights.display().to_string()) && err.contains("do not match tokenizer.json"), "{err}");

    // A codec of no run, or one of another modality, is named.
    let missing = write_config(&s, "missing", &speech_source("from = \"nowhere\""), 64, 10);
    let err = fails(s.path(), &["train", missing.to_str().unwrap()]);
    assert!(err.contains("nowhere"), "{err}");
    let text_codec = SHAKESPEARE.to_owned() + "[sources.tokenizer.codec]\n";
    let config = write_config(&s, "text-codec", &text_codec, 64, 10);
    let err = fails(s.path(), &["train", config.to_str().unwrap()]);
    assert!(err.contains("a text tokenizer carries no signal for a codec to encode"), "{err}");
}

/// A WAV file of `samples` (16-bit) at `rate` with `channels` interleaved.
fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
    let spec =
        hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    samples.iter().for_each(|&v| writer.write_sample(v).unwrap());
    writer.finalize().unwrap();
}

/// Trains run `name`: a tiny model of FSDD's digits at 2 kHz, conditioned on the digit,
/// through [`TINY_CODEC`], then `stages` (more `[tokenizer.*]` sections); returns its
/// scratch folder.
fn train_digits(name: &str, stages: &str) -> Scratch {
    let s = Scratch::new();
    data(&s.path().join("data"));
    let data = "path = \"fsdd\"\nsplit = \"files\"\nval_files = \"*_0.wav\"";
    let tokenizer = format!(
        "kind = \"audio\"\nsample_rate = 2000\nconditional = true\nlabel_pattern = \"{{label}}_{{_}}_{{_}}.wav\"\n\
         [tokenizer.codec]\n{TINY_CODEC}{stages}"
    );
    let config = tiny_config(s.path(), &s.path().join("data"), name, data, &tokenizer, 32, "");
    let out = ok(s.path(), &["train", config.to_str().unwrap()]);
    assert!(out.contains("step 20"), "{out}");
    s
}

#[test]
fn a_run_trains_its_codec_and_encodes_any_recording_a_user_gives_it() {
    let s = train_digits("digits", "");
    let run = s.run_dir("digits");
    let run_arg = run.to_str().unwrap();
    let files = sample_files(&s, run_arg, "seven", &["--class", "7", "--max-tokens", "10"]);
    assert!(files.iter().any(|p| p.extension().is_some_and(|e| e == "wav")), "{files:?}");
    // A prompt cut in seconds is kept whole: 0.2 s is 10 codes of 40 samples.
    let prompt = s.path().join("data/fsdd/7_jackson_1.wav");
    let args = ["--prompt", prompt.to_str().unwrap(), "--prompt-length", "0.2", "--max-tokens", "5"];
    let files = sample_files(&s, run_arg, "prompted", &args);
    let wav = parse_wav(files.iter().find(|p| p.extension().is_some_and(|e| e == "wav")).expect("a recording"));
    assert!(
        (400..=600).contains(&wav.samples.len()),
        "the prompt's 400 samples and at most 5 codes more: {}",
        wav.samples.len()
    );

    let inputs = s.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let tone = |n: usize, rate: f32| (0..n).map(move |i| ((i as f32 * 440.0 / rate).sin() * 8000.0) as i16);
    write_wav(&inputs.join("7_silence_0.wav"), 8000, 1, &vec![0; 8000]);
    write_wav(&inputs.join("7_short_0.wav"), 8000, 1, &tone(80, 8000.0).collect::<Vec<_>>());
    let stereo: Vec<i16> = tone(48_000, 48_000.0).flat_map(|v| [v, v / 2]).collect();
    write_wav(&inputs.join("7_stereo_0.wav"), 48_000, 2, &stereo);
    write_wav(&inputs.join("7_long_0.wav"), 8000, 1, &tone(8000 * 600, 8000.0).collect::<Vec<_>>());
    // Codes per document, at 2 kHz and 40 samples per code: BOS Label_7 codes EOS.
    for (name, codes) in [("silence", 50), ("short", 1), ("stereo", 50)] {
        let file = inputs.join(format!("7_{name}_0.wav"));
        let ids = ok(s.path(), &["encode", run_arg, file.to_str().unwrap(), "--ids"]);
        let docs: Vec<&str> = ids.lines().collect();
        assert_eq!(docs.len(), 1, "{name}: {ids}");
        let found = docs[0].split_whitespace().count() - 3;
        assert!(found.abs_diff(codes) <= 1, "{name}: {found} codes, about {codes} expected");

        // Back to a WAV within one code of the recording's length.
        let ids_file = s.path().join(format!("{name}.ids"));
        std::fs::write(&ids_file, docs[0]).unwrap();
        let back = s.path().join(format!("{name}-back.wav"));
        ok(s.path(), &["decode", run_arg, ids_file.to_str().unwrap(), "--out", back.to_str().unwrap()]);
        let wav = parse_wav(&back);
        assert_eq!(wav.samples.len(), found * 40, "{name}: whole codes of 40 samples");
    }
    // Ten minutes: cut into documents of at most 16000 samples (8 s at 2 kHz).
    let long = inputs.join("7_long_0.wav");
    let ids = ok(s.path(), &["encode", run_arg, long.to_str().unwrap(), "--ids"]);
    let docs: Vec<usize> = ids.lines().map(|d| d.split_whitespace().count() - 3).collect();
    assert_eq!(docs.len(), 75, "600 s in documents of 8 s");
    assert!(docs.iter().all(|&codes| codes == 400), "{docs:?}");
    // Not a recording: a clear error that names the file.
    let bad = inputs.join("7_bad_0.wav");
    std::fs::write(&bad, b"RIFF nonsense").unwrap();
    let err = fails(s.path(), &["encode", run_arg, bad.to_str().unwrap()]);
    assert!(err.contains(&bad.display().to_string()), "{err}");
}

/// Merges learned over a codec's codes: the run saves both stages, trains, samples a
/// recording of a class, and `autoreg info` names both.
#[test]
fn bpe_merges_a_codecs_codes() {
    let s = train_digits("merged", "[tokenizer.bpe]\nvocab_size = 60\n");
    let run = s.run_dir("merged");
    let tokenizer = SavedTokenizer::load(&run.join("tokenizer.json")).unwrap();
    let pipeline = tokenizer.pipeline();
    // 32 codes, 10 labels and 3 specials, then merges of codes.
    assert_eq!((pipeline.base.vocab_size(), pipeline.vocab_size()), (45, 60));
    assert!(pipeline.token_name(50).unwrap().starts_with("Code_"), "{:?}", pipeline.token_name(50));
    let info = ok(s.path(), &["info", run.to_str().unwrap()]);
    assert!(info.contains("codec      32 codes") && info.contains("bpe        15 merged ids after 45"), "{info}");
    let files = sample_files(&s, run.to_str().unwrap(), "three", &["--class", "3", "--max-tokens", "10"]);
    let wav = files.iter().find(|p| p.extension().is_some_and(|e| e == "wav")).expect("a recording");
    assert!(parse_wav(wav).samples.len().is_multiple_of(40));
}
