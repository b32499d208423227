//! Fill in the middle end to end: a tiny code model trained with `data.fim_rate`
//! infills lines of a file on both decoders, changing nothing outside them; its
//! tokenizer saves the sentinels; bad spans and a run trained without FIM are refused.

use crate::common::{self, fails, ok, tiny_config};
use std::path::Path;

/// A few small Python files, alike enough for 20 steps to learn something of them.
fn write_code(dir: &Path) {
    let code = Path::new("code");
    std::fs::create_dir_all(dir.join(code)).unwrap();
    for i in 0..6 {
        let body = format!(
            "def add_{i}(a, b):\n    total = a + b\n    return total\n\n\ndef scale_{i}(x):\n    \
             y = x * {i}\n    return y\n\n\nprint(add_{i}(1, 2), scale_{i}(3))\n"
        );
        std::fs::write(dir.join(code).join(format!("m{i}.py")), body.repeat(4)).unwrap();
    }
}

/// Byte-level BPE over code, a context of 64; `fim_rate` in `[data]`.
fn config(dir: &Path, name: &str, fim_rate: f64) -> String {
    let data = format!("path = \"code\"\nsplit = \"files\"\nval_fraction = 0.2\nfim_rate = {fim_rate}");
    let tokenizer = "kind = \"code\"\nextensions = [\"py\"]\n[tokenizer.bpe]\nvocab_size = 300";
    let sample = "[sample]\nmax_tokens = 24\n";
    let path = tiny_config(dir, &dir.join("data"), name, &data, tokenizer, 64, sample);
    path.to_str().unwrap().to_owned()
}

/// Where line `n` (from 1) of `text` ends, its newline left out.
fn line_end(text: &[u8], n: usize) -> usize {
    text.iter().enumerate().filter(|&(_, &b)| b == b'\n').nth(n - 1).map_or(text.len(), |(i, _)| i)
}

#[test]
fn lines_are_infilled_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_code(&d.join("data"));
    ok(d, &["train", &config(d, "fim", 0.5)]);
    ok(d, &["train", &config(d, "plain", 0.0)]);
    let (run, plain) = (d.join("runs/fim"), d.join("runs/plain"));
    let (run, plain) = (run.to_str().unwrap(), plain.to_str().unwrap());
    // The sentinels come after every other id, and round-trip through tokenizer.json.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("runs/fim/tokenizer.json")).unwrap()).unwrap();
    assert_eq!(json["fim"], serde_json::json!({"prefix": 300, "suffix": 301, "middle": 302}), "{json}");
    let info = ok(d, &["info", run]);
    assert!(info.contains("infill     --infill FILE --span A:B counts lines (sentinels 300, 301, 302)"), "{info}");
    assert!(info.contains("bpe        40 merged ids after 260 base ids"), "{info}");
    let plain_json = std::fs::read_to_string(d.join("runs/plain/tokenizer.json")).unwrap();
    assert!(!plain_json.contains("fim"), "{plain_json}");

    let file = d.join("data/code/m1.py");
    let original = std::fs::read(&file).unwrap();
    let f = file.to_str().unwrap();
    for decoder in ["native", "libtorch"] {
        let out = d.join(decoder);
        let args = ["sample", run, "--infill", f, "--span", "6:7", "--num", "2", "--decoder", decoder];
        ok(d, &[&args[..], &["--out", out.to_str().unwrap()]].concat());
        for i in 0..2 {
            let infilled = std::fs::read(out.join(format!("m1-infill-{i}.py"))).unwrap();
            // Lines 1-5 and 8 on come back byte for byte: the middle is lines 6 and 7,
            // from the newline that ends line 5 to the one that ends line 7.
            let (a, b) = (line_end(&original, 5), line_end(&original, 7));
            assert_eq!(infilled[..a], original[..a], "{decoder} {i}: the prefix changed");
            let tail = original.len() - b;
            assert!(infilled.len() >= a + tail, "{decoder} {i}: the suffix is cut");
            assert_eq!(infilled[infilled.len() - tail..], original[b..], "{decoder} {i}: the suffix changed");
        }
    }

    // The middles' loss given both sides beside the prefix alone, saved beside the run.
    let table = ok(d, &["eval", run, "--infill", "--docs", "3", "--seed", "5"]);
    assert!(table.contains("one line in each of") && table.contains("(seed 5)"), "{table}");
    for row in ["prefix and suffix (FIM)", "prefix alone (left to right)"] {
        let line = table.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("{table}"));
        let nats: f64 = line[row.len()..].split_whitespace().next().unwrap().parse().unwrap();
        assert!(nats.is_finite() && nats > 0.0, "{line}");
    }
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("runs/fim/eval-infill.json")).unwrap()).unwrap();
    assert_eq!((saved["seed"].as_u64(), saved["span_unit"].as_str()), (Some(5), Some("line")), "{saved}");
    assert!(saved["documents"].as_u64().unwrap() >= 1, "{saved}");
    let err = fails(d, &["eval", plain, "--infill"]);
    assert!(err.contains("--infill: this run was trained without fill in the middle"), "{err}");

    // Bad spans and a run without sentinels are named.
    for (span, says) in [
        ("0:2", "--span 0:2 is out of range: lines count from 1, and this file has 44"),
        ("3:99", "--span 3:99 is out of range"),
        ("5:4", "--span 5:4 is reversed"),
        ("5", "--span \"5\": give the first and last units"),
    ] {
        let err = fails(d, &["sample", run, "--infill", f, "--span", span]);
        assert!(err.contains(says), "{span}: {err}");
    }
    // A run that starts from one made without sentinels does not get them.
    let tuned = config(d, "tuned", 0.5);
    let text = std::fs::read_to_string(&tuned).unwrap();
    let (head, tail) = text.split_once("[tokenizer]").unwrap();
    std::fs::write(&tuned, format!("{head}{}", &tail[tail.find("[model]").unwrap()..])).unwrap();
    let err = fails(d, &["train", &tuned, "--set", &format!("model.init_from=\"{plain}\"")]);
    assert!(err.contains("data.fim_rate: the tokenizer this run trains with"), "{err}");
    let err = fails(d, &["sample", plain, "--infill", f, "--span", "2:3"]);
    assert!(err.contains("--infill: this run was trained without fill in the middle"), "{err}");
    let out = common::autoreg(d, &["sample", run, "--span", "2:3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--infill"), "{stderr}");
    // Ordinary sampling of a FIM run writes code, never a sentinel.
    let text = ok(d, &["sample", run, "--num", "4", "--max-tokens", "40", "--out", "free"]);
    assert!(!text.is_empty());
}

#[test]
fn fim_needs_a_modality_with_units() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("data")).unwrap();
    let wav = d.join("data/tone.wav");
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for t in 0..8000 {
        w.write_sample(((t as f32 * 0.05).sin() * 8000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    let data = "path = \"tone.wav\"\nsplit = \"tail\"\nfim_rate = 0.5";
    let cfg = tiny_config(d, &d.join("data"), "tone", data, "kind = \"audio\"", 32, "");
    let err = fails(d, &["train", cfg.to_str().unwrap()]);
    assert!(err.contains("data.fim_rate: the audio tokenizer has no units to cut"), "{err}");
}
