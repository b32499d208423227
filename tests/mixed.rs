//! A run of several sources end to end through the `autoreg` binary: a tiny model on
//! real digits, spoken digits, Nottingham tunes and Shakespeare, each source but the
//! text paired with captions; samples of every modality that parse, a pixels segment
//! with no id of another modality, the mixture's `tokenizer.json` read back, the
//! evaluation per source, a resumed run, and clear errors for an unknown modality or
//! caption.

use crate::common;
use autoreg::SavedTokenizer;
use autoreg::cli::{ModelArgs, Which};
use autoreg::model::{SampleOptions, Sampler};
use autoreg::tokens::SegmentRules;
use common::{Scratch, fails, ok, parse_wav, png_size, shared_data};
use std::path::{Path, PathBuf};

/// The words of the digits, as captions.
pub(crate) const WORDS: &str = r#"words = { "0" = "zero", "1" = "one", "2" = "two", "3" = "three", "4" = "four", "5" = "five", "6" = "six", "7" = "seven", "8" = "eight", "9" = "nine" }"#;

/// Copies a small part of each shared data set under `root`: the digits, 40 FSDD
/// recordings (four of each digit by one speaker), 12 tunes and 20 kB of Shakespeare.
pub(crate) fn data(root: &Path) {
    let copy = |from: PathBuf, to: &str| {
        let to = root.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    };
    copy(shared_data("digits/digits.csv.gz"), "digits.csv.gz");
    for digit in 0..10 {
        for index in 0..4 {
            let name = format!("{digit}_jackson_{index}.wav");
            copy(shared_data(&format!("fsdd/recordings/{name}")), &format!("fsdd/{name}"));
        }
    }
    for (kind, n) in [("jigs", 1..7), ("waltzes", 1..7)] {
        for i in n {
            copy(shared_data(&format!("nottingham/melody/{kind}{i}.mid")), &format!("tunes/{kind}{i}.mid"));
        }
    }
    let text = std::fs::read_to_string(shared_data("tinyshakespeare/input.txt")).unwrap();
    std::fs::write(root.join("shakespeare.txt"), &text[..20_000]).unwrap();
}

/// The text source of the mixed runs: Shakespeare, char by char, its tail validating.
pub(crate) const SHAKESPEARE: &str = r#"[[sources]]
name = "shakespeare"
path = "shakespeare.txt"
split = "tail"
[sources.tokenizer]
kind = "text"
level = "char"
"#;

/// The config of the tiny mixed run over [`data`].
fn config(s: &Scratch) -> PathBuf {
    data(&s.path().join("data"));
    write_config(s, "mixed", &sources(), 96, 30)
}

/// The sources of [`config`]: every one but the text with captions.
fn sources() -> String {
    format!(
        r#"[[sources]]
name = "digits"
path = "digits.csv.gz"
weight = 2
caption = {{ from = "class", {WORDS} }}
[sources.tokenizer]
kind = "pixels"
colors = "grey"
levels = 4
conditional = true

{fsdd}
[[sources]]
name = "tunes"
path = "tunes"
split = "files"
val_fraction = 0.2
caption = {{ from = "name", pattern = "{{label}}{{#}}.mid", words = {{ jigs = "jig", waltzes = "waltz" }} }}
[sources.tokenizer]
kind = "midi"
max_bars = 8

"#,
        fsdd = fsdd_source("")
    ) + SHAKESPEARE
}

/// The FSDD source of the tiny mixed runs, each recording after the word of its digit,
/// at 2 kHz, with `stages` (`[sources.tokenizer.*]` sections) after its tokenizer.
pub(crate) fn fsdd_source(stages: &str) -> String {
    format!(
        r#"[[sources]]
name = "fsdd"
path = "fsdd"
split = "files"
val_files = "*_0.wav"
caption = {{ from = "name", pattern = "{{label}}_{{_}}_{{_}}.wav", {WORDS} }}
[sources.tokenizer]
kind = "audio"
sample_rate = 2000
{stages}"#
    )
}

/// Writes the config of a tiny mixed run `name` over `sources` under `s`'s `data/`, with
/// a context of `block` and `steps` training steps; returns its path.
pub(crate) fn write_config(s: &Scratch, name: &str, sources: &str, block: usize, steps: usize) -> PathBuf {
    let text = format!(
        r#"name = "{name}"

[data]
root = "{root}"
cache_dir = "{cache}"
windows = "documents"

{sources}
[model]
n_layer = 2
n_head = 2
n_embd = 32
block_size = {block}

[train]
runs_dir = "{runs}"
batch_size = 8
max_steps = {steps}
warmup_steps = 2
eval_interval = {eval}
eval_batches = 2
device = "cpu"
threads = 1
"#,
        root = s.path().join("data").display(),
        cache = s.path().join("cache").display(),
        runs = s.path().join("runs").display(),
        eval = steps / 2,
    );
    let path = s.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Samples the run at `run` with `args` and seed 5 into `out/DIR` under `s`; returns the
/// files written, sorted.
pub(crate) fn sample_files(s: &Scratch, run: &str, dir: &str, args: &[&str]) -> Vec<PathBuf> {
    let out = s.path().join("out").join(dir);
    let base = ["sample", run, "--out", out.to_str().unwrap(), "--seed", "5"];
    ok(s.path(), &[&base[..], args].concat());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn a_mixed_run_trains_samples_every_modality_and_evaluates_each_source() {
    let s = Scratch::new();
    let cfg = config(&s);
    let cfg = cfg.to_str().unwrap();
    let out = ok(s.path(), &["train", cfg]);
    assert!(out.contains("step 30"), "{out}");
    let run = s.run_dir("mixed");
    let run_arg = run.to_str().unwrap();

    // The composite tokenizer reads back as it was written.
    let json = std::fs::read_to_string(run.join("tokenizer.json")).unwrap();
    assert!(json.contains("\"kind\": \"mixed\"") && json.contains("\"captions\": 3"), "{json}");
    let tokenizer = SavedTokenizer::load(&run.join("tokenizer.json")).unwrap();
    assert_eq!(tokenizer.to_json().unwrap(), json);
    let info = ok(s.path(), &["info", run_arg]);
    assert!(info.contains("modalities pixels") && info.contains("source     fsdd (weight 1)"), "{info}");

    // Each modality, after a caption given or written by the model.
    let sample = |dir: &str, args: &[&str]| sample_files(&s, run_arg, dir, args);
    let images = sample("pixels", &["--modality", "pixels", "--text", "seven", "--num", "2"]);
    let names: Vec<String> = images.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["mixed-0-0.txt", "mixed-0-1.png", "mixed-1-0.txt", "mixed-1-1.png", "mixed-grid.png"]);
    assert_eq!(std::fs::read_to_string(&images[0]).unwrap(), "seven", "the caption is the first segment");
    assert_eq!(png_size(&images[1]), (8, 8));
    let speech = sample("audio", &["--modality", "audio", "--text", "three", "--max-tokens", "300"]);
    let wav = speech.iter().find(|p| p.extension().is_some_and(|e| e == "wav")).expect("a recording");
    let wav = parse_wav(wav);
    assert!(wav.rate == 2000 && !wav.samples.is_empty() && wav.samples.len() <= 300);
    for args in [&["--modality", "midi", "--text", "waltz"][..], &["--modality", "midi"][..]] {
        let tune = sample("midi", &[args, &["--max-tokens", "150"]].concat());
        let mid = tune.iter().find(|p| p.extension().is_some_and(|e| e == "mid")).expect("a tune");
        let bytes = std::fs::read(mid).unwrap();
        autoreg::midi::Score::from_midi(&bytes, &mid.display().to_string()).unwrap();
    }
    let text = sample("text", &["--modality", "text", "--max-tokens", "60"]);
    assert!(std::fs::read_to_string(&text[0]).is_ok(), "text segments are UTF-8");

    // A pixels segment holds pixels ids only, up to EOS.
    let loaded =
        autoreg::run::load_run(&ModelArgs { run_dir: run.clone(), checkpoint: Which::Last, device: None }).unwrap();
    let tok = loaded.tokenizer.pipeline();
    let parts = tok.parts().unwrap();
    let mixture = loaded.tokenizer.mixture().unwrap();
    let pixels = mixture.part_named("pixels").unwrap();
    let rules = SegmentRules { parts, target: Some(pixels) };
    let sampler = Sampler::new(&loaded.model, loaded.device).with_grammar(&rules);
    let bos = tok.specials().bos;
    let eos = tok.specials().eos;
    let options = SampleOptions { num: 16, max_tokens: 120, seed: 1, ..Default::default() };
    let rows = sampler.generate(&[bos], Some(eos), None, &options, &mut || {}).unwrap();
    for row in &rows {
        let names: Vec<String> = row.iter().map(|&id| tok.token_name(id).unwrap()).collect();
        let at = names.iter().position(|n| n == "<pixels>").unwrap_or_else(|| panic!("no pixels segment: {names:?}"));
        assert!(names[..at].iter().skip(2).all(|n| n.starts_with("text:")), "{names:?}");
        let body = &names[at + 1..];
        assert!(body.iter().all(|n| n.starts_with("pixels:") || n == "<eos>"), "{names:?}");
        assert_eq!(parts.segments(row).last().map(|s| (s.part, s.foreign)), Some((pixels, 0)));
    }

    // The evaluation: every source's rows in one table.
    let table = ok(s.path(), &["eval", run_arg]);
    for source in ["digits ", "fsdd ", "tunes ", "shakespeare "] {
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with(source)).collect();
        assert_eq!(rows.len(), 4, "{source}: the transformer and three baselines\n{table}");
    }
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    let units: Vec<&str> = eval["sources"].as_array().unwrap().iter().map(|s| s["unit"].as_str().unwrap()).collect();
    assert_eq!(units, ["dim", "sample", "note", "token"]);
    ok(s.path(), &["report", run_arg]);
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        page.contains("digits (per dim): transformer, stride 48") && page.contains("nats&#x2f;unit"),
        "the page's table"
    );

    // A killed or finished mixed run resumes from its own directory.
    let out = ok(s.path(), &["train", "--resume", run_arg, "--set", "train.max_steps=32"]);
    assert!(out.contains("step 32"), "{out}");

    // Clear errors.
    let err = fails(s.path(), &["sample", run_arg, "--modality", "smell"]);
    assert!(
        err.contains("--modality smell: this run has no such modality; its modalities are pixels, audio, midi, text"),
        "{err}"
    );
    let err = fails(s.path(), &["sample", run_arg, "--modality", "pixels", "--text", "séven"]);
    assert!(err.contains("--text: character 'é' (U+00E9) at byte 1 is not in the vocabulary"), "{err}");
    let out = common::autoreg(s.path(), &["sample", run_arg, "--text", "seven"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && err.contains("required arguments were not provided:\n  --modality"),
        "{err}"
    );
}

/// A mixed run whose MIDI and text parts each learn merges on their own training
/// documents: the composite tokenizer saves both, the data is read in merged ids, and
/// the run trains, samples each modality and resumes.
#[test]
fn a_mixed_run_with_bpe_in_its_midi_and_text_parts_trains_samples_and_resumes() {
    let s = Scratch::new();
    let root = s.path().join("data");
    data(&root);
    let sources = sources()
        .replace("max_bars = 8\n", "max_bars = 8\n[sources.tokenizer.bpe]\nvocab_size = 600\n")
        .replace("level = \"char\"\n", "level = \"char\"\n[sources.tokenizer.bpe]\nvocab_size = 120\n");
    assert_eq!(sources.matches("[sources.tokenizer.bpe]").count(), 2, "{sources}");
    let cfg = write_config(&s, "mixed-bpe", &sources, 96, 30);
    let out = ok(s.path(), &["train", cfg.to_str().unwrap()]);
    assert!(out.contains("step 30"), "{out}");
    let run = s.run_dir("mixed-bpe");
    let run_arg = run.to_str().unwrap();

    // Each part with merges has its own, learned over its own base ids.
    let tokenizer = SavedTokenizer::load(&run.join("tokenizer.json")).unwrap();
    let mixture = tokenizer.mixture().unwrap();
    let merged: Vec<(&str, usize, usize)> = mixture
        .parts()
        .iter()
        .filter_map(|p| {
            p.bpe.as_ref().map(|_| (p.pipeline().kind(), p.pipeline().base.vocab_size(), p.pipeline().vocab_size()))
        })
        .collect();
    assert_eq!(merged.iter().map(|m| m.0).collect::<Vec<_>>(), ["midi", "text"], "{merged:?}");
    assert!(merged.iter().all(|&(_, base, all)| all > base), "{merged:?}");
    let info = ok(s.path(), &["info", run_arg]);
    assert!(info.contains("midi (600 ids: 192 merged after 408)"), "{info}");
    let tune = root.join("tunes/jigs1.mid");
    let ids = ok(s.path(), &["encode", run_arg, tune.to_str().unwrap()]);
    assert!(ids.starts_with("<bos> <midi> ") && ids.contains('+'), "a tune in merged ids: {ids}");

    // Every modality samples; captions are written in the merged text part.
    let sample = |dir: &str, args: &[&str]| sample_files(&s, run_arg, dir, args);
    let images = sample("pixels", &["--modality", "pixels", "--text", "seven"]);
    assert_eq!(std::fs::read_to_string(&images[0]).unwrap(), "seven", "the caption is the first segment");
    assert_eq!(png_size(&images[1]), (8, 8));
    let tune = sample("midi", &["--modality", "midi", "--text", "waltz", "--max-tokens", "80"]);
    let mid = tune.iter().find(|p| p.extension().is_some_and(|e| e == "mid")).expect("a tune");
    autoreg::midi::Score::from_midi(&std::fs::read(mid).unwrap(), &mid.display().to_string()).unwrap();
    let text = sample("text", &["--modality", "text", "--max-tokens", "40"]);
    assert!(!std::fs::read_to_string(&text[0]).unwrap().is_empty(), "text segments are UTF-8");

    // The evaluation has every source's rows, and the run resumes in the same ids.
    let table = ok(s.path(), &["eval", run_arg, "--no-baselines"]);
    for source in ["digits ", "fsdd ", "tunes ", "shakespeare "] {
        assert!(table.lines().any(|l| l.starts_with(source)), "{source}\n{table}");
    }
    // The text's validation split is the tail of its one document, cut without its tag:
    // it keeps its ids, merged, all of them predicted.
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    let text = &eval["sources"][3];
    let row = &text["models"][0];
    let tokens_per_doc = row["nats_per_document"].as_f64().unwrap() / row["nats_per_token"].as_f64().unwrap();
    assert_eq!((text["source"].as_str(), text["documents"].as_u64()), (Some("shakespeare"), Some(1)));
    assert!(tokens_per_doc > 500.0, "the 2,000 characters' tail in merged ids: {tokens_per_doc} tokens");
    let resumed = common::autoreg(s.path(), &["train", "--resume", run_arg, "--set", "train.max_steps=32"]);
    let (out, err) = (String::from_utf8_lossy(&resumed.stdout), String::from_utf8_lossy(&resumed.stderr));
    assert!(resumed.status.success() && out.contains("step 32"), "{out}{err}");
    assert!(err.contains("from the cache"), "the base ids are cached, and merged again: {err}");
}

/// A mixed run with a video source cut into frame windows, each clip captioned by the
/// text file beside it: it trains beside a text source, `--modality video --text` samples
/// whole frames into a GIF, and each source is evaluated in its own windows.
#[test]
fn a_mixed_run_with_a_video_source_trains_and_samples_a_gif() {
    let s = Scratch::new();
    let root = s.path().join("data");
    let mnist = shared_data("mnist-test/t10k-images-idx3-ubyte.gz");
    let clips = root.join("clips");
    let args = ["dataset", "moving-mnist", "--out", clips.to_str().unwrap(), "--clips", "24", "--frames", "4"];
    let more = ["--size", "28", "--digits", "1", "--mnist", mnist.to_str().unwrap()];
    ok(s.path(), &[&args[..], &more[..]].concat());
    // Each clip captioned by the file beside it.
    for i in 0..24 {
        std::fs::write(clips.join(format!("clip-{i:05}.txt")), if i % 2 == 0 { "even" } else { "odd" }).unwrap();
    }
    let text = std::fs::read_to_string(shared_data("tinyshakespeare/input.txt")).unwrap();
    std::fs::write(root.join("shakespeare.txt"), &text[..10_000]).unwrap();
    let sources = r#"[[sources]]
name = "clips"
path = "clips"
caption = { from = "sidecar" }
windows = "frames"
context_frames = 1
[sources.tokenizer]
kind = "video"
max_frames = 4
[sources.tokenizer.frame]
width = 8
height = 8
levels = 2

"#;
    let cfg = write_config(&s, "mixed-video", &format!("{sources}{SHAKESPEARE}"), 130, 20);
    let out = ok(s.path(), &["train", cfg.to_str().unwrap()]);
    assert!(out.contains("step 20"), "{out}");
    let run = s.run_dir("mixed-video");
    let run_arg = run.to_str().unwrap();

    let out = s.path().join("out");
    let args = ["sample", run_arg, "--modality", "video", "--frames", "3", "--out", out.to_str().unwrap()];
    ok(s.path(), &[&args[..], &["--text", "odd"]].concat());
    assert_eq!(std::fs::read_to_string(out.join("mixed-video-0.txt")).unwrap(), "odd", "the caption comes first");
    let gif = out.join("mixed-video-1.gif");
    let file = std::io::BufReader::new(std::fs::File::open(&gif).unwrap_or_else(|e| panic!("{}: {e}", gif.display())));
    let decoder = autoreg::pixels::image::codecs::gif::GifDecoder::new(file).unwrap();
    use autoreg::pixels::image::AnimationDecoder;
    let frames: Vec<_> = decoder.into_frames().map(|f| f.unwrap().into_buffer().dimensions()).collect();
    assert_eq!(frames, [(8, 8); 3], "three whole frames of 8x8");

    // Each source is evaluated in its own windows.
    let table = ok(s.path(), &["eval", run_arg, "--no-baselines"]);
    for source in ["clips ", "shakespeare "] {
        assert!(table.lines().any(|l| l.starts_with(source)), "{source}\n{table}");
    }
    // The frames follow a caption, which a sample of whole frames cannot leave to the model.
    let err = fails(s.path(), &args);
    assert!(err.contains("--modality video: its sources all have captions") && err.contains("--text"), "{err}");
    let err = fails(s.path(), &["sample", run_arg, "--modality", "text", "--frames", "3"]);
    assert!(err.contains("--frames: this mixed run's windows are not frames"), "{err}");
}
