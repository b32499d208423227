//! `autoreg report` end to end: tiny runs of text, music, images and sound are trained
//! and sampled, their report pages written, every media reference of a page checked,
//! and each page opened in headless Chromium: it must load without errors, with every
//! image decoded, every audio player's metadata loaded, and a screenshot that is not
//! blank.
//!
//! The browser is Debian's `chromium` (`apt-get install chromium`, which `.ci/run` does),
//! or the one that `CHROMIUM` names; without one these tests fail.

use crate::common;
use autoreg::pixels::image;
use common::{Scratch, ok, shared_data, tiny_config, train_with};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The values of every `name="..."` attribute in `html`, character references decoded.
fn attributes(html: &str, name: &str) -> Vec<String> {
    let key = format!(" {name}=\"");
    html.match_indices(&key)
        .map(|(at, _)| {
            let rest = &html[at + key.len()..];
            let value = &rest[..rest.find('"').unwrap()];
            [("&#x2f;", "/"), ("&#x27;", "'"), ("&quot;", "\""), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")]
                .iter()
                .fold(value.to_owned(), |v, (from, to)| v.replace(from, to))
        })
        .collect()
}

/// `%XX` escapes decoded.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Reads a report page and checks it: the loss plot is there, every `src` and `href` is a
/// data URI or a relative link to a file that exists, and the evaluation table is there
/// exactly when the run has an `eval.json`. Returns the page.
fn check_page(run: &Path, page: &Path) -> String {
    let html = std::fs::read_to_string(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    assert!(html.contains("<svg id=\"loss\"") && html.contains("<polyline"), "{}: no loss plot", page.display());
    let dir = page.parent().unwrap();
    for link in attributes(&html, "src").into_iter().chain(attributes(&html, "href")) {
        if link.starts_with("data:") {
            assert!(link.contains(";base64,") && link.len() > 30, "{}: a bad data URI {:.60}", page.display(), link);
        } else {
            assert!(!link.contains("://"), "{}: an external link {link}", page.display());
            let target = dir.join(percent_decode(&link));
            assert!(target.is_file(), "{}: {link} does not exist", page.display());
        }
    }
    assert_eq!(html.contains("<table id=\"eval\""), run.join("eval.json").exists(), "{}: eval table", page.display());
    html
}

/// The browser.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(path.exists(), "{} is missing: install Debian's chromium (apt-get install chromium)", path.display());
    path
}

/// Headless Chromium on `url` with a fresh profile and nothing reaching the network.
fn browser(url: &str, extra: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--mute-audio",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url);
    let out = common::within(std::time::Duration::from_secs(120), move || cmd.output().unwrap());
    assert!(out.status.success(), "chromium {url} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Opens the page in headless Chromium. Opened as `page#check`, the page's own script
/// waits for its audio players and writes what loaded into `<div id="report-check">`,
/// which `--dump-dom` prints (`--virtual-time-budget` lets the script's timers run
/// first). Then a screenshot, which must not be one colour. Returns the screenshot.
fn check_in_browser(page: &Path, images: usize, players: usize) -> PathBuf {
    let url = format!("file://{}", page.display());
    let out = browser(&format!("{url}#check"), &["--virtual-time-budget=15000", "--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    let at = dom.find("<div id=\"report-check\" ").unwrap_or_else(|| panic!("{}: no check results", page.display()));
    let div = &dom[at..];
    let div = &div[..div.find("</div>").unwrap()];
    let number = |name: &str| -> usize { attributes(div, name)[0].parse().unwrap() };
    assert_eq!(number("data-errors"), 0, "{}: errors in the page: {div}", page.display());
    assert_eq!(number("data-images"), images, "{}: {div}", page.display());
    assert_eq!(number("data-images-loaded"), images, "{}: an image did not load: {div}", page.display());
    assert_eq!(number("data-audio"), players, "{}: {div}", page.display());
    assert_eq!(number("data-audio-ready"), players, "{}: an audio player has no metadata: {div}", page.display());

    let shot = page.with_extension("png");
    browser(&url, &[&format!("--screenshot={}", shot.display()), "--window-size=1200,2000"]);
    let pixels = image::open(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display())).to_rgb8();
    assert_eq!(pixels.dimensions(), (1200, 2000), "{}", shot.display());
    let first = pixels.get_pixel(0, 0);
    let other = pixels.pixels().filter(|p| *p != first).count();
    assert!(other > 1000, "{}: the screenshot is blank ({other} pixels differ)", shot.display());
    shot
}

/// Counts of `needle` in `html`.
fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[test]
fn text_report_shows_samples_eval_and_folders_escaped() {
    let s = Scratch::new();
    let cfg = s.config("tiny", "[sample]\nnum = 2\nmax_tokens = 40\n");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("tiny");
    let r = run.to_str().unwrap();
    // `train` writes the report at its end, before anything is sampled.
    let page = run.join("report.html");
    let html = check_page(&run, &page);
    assert!(html.contains("No samples yet"), "{html}");
    assert!(html.contains("Cpu (train.device = cpu)"), "the device it trained on");

    // A prompt whose name must be escaped labels its samples.
    std::fs::write(s.path().join("a<b>.txt"), "the quick").unwrap();
    ok(s.path(), &["sample", r, "--prompt", "a<b>.txt", "--out", "out", "--report"]);
    ok(s.path(), &["eval", r]);
    std::fs::create_dir_all(s.path().join("more")).unwrap();
    std::fs::write(s.path().join("more/note.txt"), "<script>alert(1)</script>").unwrap();
    // The samples in `out` show when that folder is named: it is outside the run.
    ok(s.path(), &["report", r, "--samples", "more", "--samples", "out"]);
    let html = check_page(&run, &page);
    assert!(html.contains("a&lt;b&gt;.txt") && !html.contains("a<b>.txt"), "the prompt's name is not escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;") && !html.contains("<script>alert"));
    assert_eq!(count(&html, "<pre>"), 1 + 2 + 1 + 1, "config, history, two samples, the folder's file");
    let text = std::fs::read_to_string(s.path().join("out/tiny-0.txt")).unwrap();
    let line = text.lines().find(|l| l.len() > 3 && !l.contains(['<', '>', '&', '"', '\'', '/'])).unwrap_or("");
    assert!(html.contains(line), "the sample's text is not shown: {line:?}");
    let log = std::fs::read_to_string(run.join("samples.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.contains("tiny-1.txt") && log.contains("\"printable\":true"), "{log}");

    // Another page, elsewhere: its links are relative to it.
    ok(s.path(), &["report", r, "--out", "pages/tiny.html"]);
    check_page(&run, &s.path().join("pages/tiny.html"));
    let shot = check_in_browser(&page, 0, 0);
    std::fs::copy(&shot, std::env::temp_dir().join("report-shot-text.png")).unwrap();
}

/// Issue 24: a run directory received from someone else must not pull the reader's files
/// into its page, neither through `samples.jsonl` (an absolute path, a `../` path, a
/// link in the run) nor through a link in a `--samples` folder.
#[test]
fn report_reads_no_file_outside_the_run_and_the_named_folders() {
    let s = Scratch::new();
    let cfg = s.config("tiny", "[sample]\nnum = 2\nmax_tokens = 40\n");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("tiny");
    let r = run.to_str().unwrap();
    ok(s.path(), &["sample", r, "--out", "out"]);

    // The reader's secret, outside the run and every samples folder.
    let private = tempfile::tempdir().unwrap();
    let marker = "SECRET-MARKER-ISSUE-24";
    let secret = private.path().join("secret.txt");
    std::fs::write(&secret, format!("{marker}\n")).unwrap();
    std::fs::write(private.path().join("secret.png"), marker).unwrap();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let passwd_line = passwd.lines().next().unwrap_or("root:x:0:0:").to_owned();

    // A samples.jsonl that names it in every way, beside the legitimate record.
    let escape = pathdiff::diff_paths(&secret, &run).unwrap();
    assert!(escape.starts_with(".."), "{}", escape.display());
    std::os::unix::fs::symlink(&secret, run.join("link.txt")).unwrap();
    std::fs::write(run.join("own.txt"), "OWN-FILE-OF-THE-RUN").unwrap();
    let lines = [
        serde_json::json!({"time": null, "out": "/etc", "step": 1, "label": "passwd",
            "overview": private.path().join("secret.png"),
            "samples": [{"files": ["/etc/passwd"], "label": "passwd", "printable": true}]}),
        serde_json::json!({"time": null, "out": "..", "step": 2, "label": "escape", "overview": null,
            "samples": [
                {"files": [escape], "label": "relative", "printable": true},
                {"files": [run.join(&escape)], "label": "dotted", "printable": true},
                {"files": [run.join("link.txt")], "label": "link", "printable": true},
                {"files": ["own.txt"], "label": "own", "printable": true}]}),
    ];
    let mut log = std::fs::read_to_string(run.join("samples.jsonl")).unwrap();
    for line in lines {
        log.push_str(&format!("{line}\n"));
    }
    std::fs::write(run.join("samples.jsonl"), log).unwrap();

    // A samples folder with a note and a link to the secret.
    let more = s.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    std::fs::write(more.join("note.txt"), "LEGIT-NOTE").unwrap();
    std::os::unix::fs::symlink(&secret, more.join("leak.txt")).unwrap();

    let args = ["report", r, "--samples", "more", "--samples", "out"];
    let out = common::autoreg(s.path(), &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "autoreg {args:?} failed:\n{stderr}");
    let page = run.join("report.html");
    let html = check_page(&run, &page);
    assert!(!html.contains(marker) && !html.contains(&passwd_line), "a file from outside is in the page");
    assert!(!html.contains("c2VjcmV0") && !html.contains("U0VDUkVU"), "the secret is in the page as base64");
    // The legitimate samples are there: the note, the run's own file and the samples in `out`.
    assert!(html.contains("LEGIT-NOTE") && html.contains("OWN-FILE-OF-THE-RUN"), "{html}");
    assert!(html.contains("tiny-0.txt") && html.contains("tiny-1.txt"), "the samples in out are missing");
    // Each file left out is named, with why.
    let outside = "outside the run directory and the named samples folders: left out";
    assert!(stderr.contains(&format!("warning: samples.jsonl names /etc/passwd, {outside}")), "{stderr}");
    assert!(stderr.contains(&format!("leak.txt leads to {}, {outside}", secret.display())), "{stderr}");
    assert!(stderr.contains(&format!("samples.jsonl names 2 more files, {outside}")), "{stderr}");

    // Without `--samples out`, the samples written there are left out too, with the way to show them.
    let out = common::autoreg(s.path(), &["report", r]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let html = check_page(&run, &page);
    assert!(!html.contains(marker) && !html.contains("tiny-0.txt") && html.contains("OWN-FILE-OF-THE-RUN"));
    assert!(stderr.contains("tiny-0.txt") && stderr.contains("--samples DIR"), "{stderr}");

    // A run's own file that leads outside it is not read either.
    std::fs::remove_file(run.join("config.history")).unwrap();
    std::os::unix::fs::symlink(&secret, run.join("config.history")).unwrap();
    let out = common::autoreg(s.path(), &["report", r]);
    assert!(out.status.success());
    assert!(!std::fs::read_to_string(&page).unwrap().contains(marker), "config.history through a link");
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.history leads to"));
}

#[test]
fn midi_report_plays_melodies_beside_their_piano_rolls() {
    let dir = shared_data("nottingham/melody");
    let mut tunes: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    tunes.sort();
    let s = tempfile::tempdir().unwrap();
    let data = s.path().join("data/melody");
    std::fs::create_dir_all(&data).unwrap();
    for tune in tunes.iter().step_by(tunes.len() / 12).take(12) {
        std::fs::copy(tune, data.join(tune.file_name().unwrap())).unwrap();
    }
    let tokenizer = "kind = \"midi\"\nscheme = \"remi\"\nmax_bars = 8";
    let sample = "[sample]\nnum = 2\nmax_tokens = 150\nmin_tokens = 16\n";
    let data_keys = "path = \"melody\"\nsplit = \"files\"\nval_fraction = 0.2";
    let cfg = tiny_config(s.path(), &s.path().join("data"), "tunes", data_keys, tokenizer, 64, sample);
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.path().join("runs/tunes");
    ok(s.path(), &["sample", run.to_str().unwrap(), "--seed", "3", "--out", "out", "--report"]);
    let page = run.join("report.html");
    let html = check_page(&run, &page);
    // Each melody: its piano roll, a player of its preview, a link to the MIDI file.
    assert_eq!(count(&html, "<audio controls"), 2, "two previews");
    assert_eq!(count(&html, "download=\"tunes-0.mid\""), 1, "a link to the MIDI file");
    let sources = attributes(&html, "src");
    assert!(sources.iter().any(|s| s.starts_with("data:image/png;base64,")), "an embedded piano roll");
    assert!(sources.iter().any(|s| s.starts_with("data:audio/wav;base64,")), "an embedded preview");
    let shot = check_in_browser(&page, 2, 2);
    std::fs::copy(&shot, std::env::temp_dir().join("report-shot-midi.png")).unwrap();
}

#[test]
fn pixels_report_shows_the_class_grid_and_labelled_digits() {
    let file = shared_data("digits/digits.csv.gz");
    let root = file.ancestors().nth(2).unwrap();
    let s = tempfile::tempdir().unwrap();
    let data = "path = \"digits/digits.csv.gz\"\nsplit = \"documents\"\nval_fraction = 0.1\nwindows = \"documents\"";
    let tokenizer = "kind = \"pixels\"\ncolors = \"grey\"\nlevels = 17\nconditional = true\nscale = 4";
    let cfg = tiny_config(s.path(), root, "digits", data, tokenizer, 66, "[sample]\nmax_tokens = 70\n");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.path().join("runs/digits");
    ok(s.path(), &["sample", run.to_str().unwrap(), "--per-class", "2", "--out", "out"]);
    ok(s.path(), &["eval", run.to_str().unwrap()]);
    ok(s.path(), &["report", run.to_str().unwrap(), "--samples", "out"]);
    let page = run.join("report.html");
    let html = check_page(&run, &page);
    assert!(html.contains("class 3") && html.contains("every class, 2 samples each"), "labels");
    // Twenty digits and the grid.
    let shot = check_in_browser(&page, 21, 0);
    std::fs::copy(&shot, std::env::temp_dir().join("report-shot-pixels.png")).unwrap();
}

#[test]
fn audio_report_shows_waveforms_with_players() {
    let fsdd = shared_data("fsdd/recordings");
    let s = tempfile::tempdir().unwrap();
    let recordings = s.path().join("data/fsdd/recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    // Index 0 validates and 5 trains (the config's split); the checkout carries only the
    // test split, so recording 1 is copied in as 5.
    for digit in 0..10 {
        for (from, index) in [(0, 0), (1, 5)] {
            let name = format!("{digit}_jackson_{from}.wav");
            std::fs::copy(fsdd.join(&name), recordings.join(format!("{digit}_jackson_{index}.wav"))).unwrap();
        }
    }
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/spoken-digits.toml");
    let sets = [
        format!("data.root={}", s.path().join("data").display()),
        format!("data.cache_dir={}", s.path().join("cache").display()),
        format!("train.runs_dir={}", s.path().join("runs").display()),
        "model.n_layer=1".into(),
        "model.n_head=2".into(),
        "model.n_embd=32".into(),
        "model.block_size=128".into(),
        // The shipped codec, shrunk to train in a second.
        "tokenizer.codec.steps=20".into(),
        "tokenizer.codec.codebook_size=32".into(),
        "tokenizer.codec.code_dim=8".into(),
        "tokenizer.codec.channels=16".into(),
        "tokenizer.codec.batch_size=4".into(),
        "tokenizer.codec.crop_frames=16".into(),
        "train.batch_size=2".into(),
        "train.max_steps=10".into(),
        "train.warmup_steps=2".into(),
        "train.eval_interval=5".into(),
        "train.eval_batches=1".into(),
        "train.device=cpu".into(),
        "train.threads=1".into(),
    ];
    train_with(s.path(), &config, &sets);
    let run = s.path().join("runs/spoken-digits");
    let r = run.to_str().unwrap();
    ok(s.path(), &["sample", r, "--class", "3", "--num", "2", "--max-tokens", "20", "--out", "out", "--report"]);
    let page = run.join("report.html");
    let html = check_page(&run, &page);
    assert!(html.contains("class 3"), "the class labels the samples");
    assert_eq!(count(&html, "<audio controls"), 2, "a player per sample");
    // Two waveforms (the modality draws no grid of sounds).
    let shot = check_in_browser(&page, count(&html, "<img "), 2);
    std::fs::copy(&shot, std::env::temp_dir().join("report-shot-audio.png")).unwrap();
}

/// The images of a page as Chromium lays it out in a window `width` pixels wide: each
/// one's (natural width, natural height, shown width, shown height).
fn image_sizes(page: &Path, width: u32) -> Vec<(f64, f64, f64, f64)> {
    let url = format!("file://{}#check", page.display());
    let size = format!("--window-size={width},2000");
    let out = browser(&url, &["--virtual-time-budget=15000", &size, "--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    let at = dom.find("<div id=\"report-check\" ").unwrap_or_else(|| panic!("{}: no check results", page.display()));
    let sizes = &attributes(&dom[at..], "data-image-sizes")[0];
    sizes
        .split_whitespace()
        .map(|s| {
            let n: Vec<f64> = s.split([':', 'x']).map(|n| n.parse().unwrap()).collect();
            (n[0], n[1], n[2], n[3])
        })
        .collect()
}

/// Issue 24: small pictures (8x8 digits) are enlarged by a whole factor, with sharp
/// pixels, and large ones shrunk by a whole factor, smoothly; the window's width scales
/// neither (a scaling by another factor drops or doubles rows and columns of pixels).
#[test]
fn pictures_show_at_whole_multiples_of_their_pixels() {
    let s = Scratch::new();
    let cfg = s.config("tiny", "[sample]\nnum = 1\nmax_tokens = 20\n");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("tiny");
    let pics = s.path().join("pics");
    std::fs::create_dir_all(&pics).unwrap();
    let checkers = |w: u32, h: u32| image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x + y) % 2 * 255) as u8]));
    checkers(8, 8).save(pics.join("a-digit.png")).unwrap();
    checkers(28, 28).save(pics.join("b-mnist.png")).unwrap();
    checkers(64, 64).save(pics.join("c-scaled.png")).unwrap();
    checkers(1299, 194).save(pics.join("d-grid.png")).unwrap();
    image::DynamicImage::ImageLuma8(checkers(8, 8)).to_rgba8().save(pics.join("e-frames.gif")).unwrap();
    ok(s.path(), &["report", run.to_str().unwrap(), "--samples", "pics"]);
    let page = run.join("report.html");
    let html = check_page(&run, &page);
    let images: Vec<&str> = html.split("<img ").skip(1).map(|tag| &tag[..tag.find('>').unwrap()]).collect();
    let widths: Vec<String> = images.iter().flat_map(|tag| attributes(&format!(" {tag}"), "width")).collect();
    assert_eq!(widths, ["256", "252", "256", "650", "256"], "{html}");
    assert_eq!(count(&html, "class=\"pixelated\""), 4);
    assert_eq!(count(&html, "class=\"smooth\""), 1);
    for window in [1200, 500] {
        let sizes = image_sizes(&page, window);
        // Each pixel a square of a whole number of screen pixels, whatever the window.
        for &(w, h, shown_w, shown_h) in [&sizes[..3], &sizes[4..]].concat().iter() {
            let k = shown_w / w;
            assert!(k >= 1.0 && k.fract() == 0.0 && shown_h / h == k, "{w}x{h} shown at {shown_w}x{shown_h}");
        }
        let shown: Vec<f64> = sizes.iter().map(|s| s.2).collect();
        assert_eq!([shown[0], shown[1], shown[2], shown[4]], [256.0, 252.0, 256.0, 256.0], "{sizes:?}");
        // The grid, shrunk by 2 (or, in a narrow window, to the window), keeps its aspect.
        let (w, h, shown_w, shown_h) = sizes[3];
        let width_ok = if window == 1200 { shown_w == 650.0 } else { shown_w > 0.0 && shown_w < 650.0 };
        assert!(width_ok && (shown_h - shown_w * h / w).abs() < 1.0, "{sizes:?}");
    }
}

/// `sample --out DIR --report` shows the samples it wrote to DIR, and no others that
/// `samples.jsonl` records outside the run: an earlier `sample`'s folder shows only when
/// named with `--samples`.
#[test]
fn sample_report_trusts_its_own_out_folder_alone() {
    let s = Scratch::new();
    let cfg = s.config("tiny", "[sample]\nnum = 1\nmax_tokens = 20\n");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("tiny");
    let r = run.to_str().unwrap();
    ok(s.path(), &["sample", r, "--out", "first", "--seed", "1"]);
    let out = common::autoreg(s.path(), &["sample", r, "--out", "second", "--seed", "2", "--report"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let page = run.join("report.html");
    let html = check_page(&run, &page);
    let (first, second) = (s.path().join("first"), s.path().join("second"));
    let first = std::fs::canonicalize(first).unwrap();
    let second = std::fs::canonicalize(second).unwrap();
    let shown = |dir: &Path, html: &str| {
        html.contains(&format!("<h3>{}, step", dir.display().to_string().replace('/', "&#x2f;")))
    };
    assert!(shown(&second, &html) && !shown(&first, &html), "{html}");
    assert!(stderr.contains(&format!("{}", first.join("tiny.txt").display())), "{stderr}");
    // Named, the first folder shows too.
    ok(s.path(), &["report", r, "--samples", "first", "--samples", "second"]);
    let html = check_page(&run, &page);
    assert!(shown(&second, &html) && shown(&first, &html), "{html}");
}
