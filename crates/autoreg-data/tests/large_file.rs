//! A file larger than memory would allow in one piece is tokenized in bounded memory.
//! Alone in its test binary, so that the process's peak memory is this test's.

use autoreg_data::{DataConfig, Silent, SplitMode, load_dataset};
use autoreg_text::TextTokenizer;
use autoreg_tokens::{Identity, Modality, Pipeline};
use std::io::Write;

/// The process's peak resident memory in MB, from `/proc/self/status`.
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap();
    kb.split_whitespace().next().unwrap().parse::<u64>().unwrap() / 1000
}

#[test]
fn a_200_mb_single_line_is_tokenized_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.txt");
    let chunk: Vec<u8> = b"the quick brown fox jumps over the lazy dog; ".repeat(1 << 16);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut written = 0;
    while written < 200_000_000 {
        out.write_all(&chunk).unwrap();
        written += chunk.len();
    }
    out.flush().unwrap();
    drop(out);
    let before = peak_rss_mb();
    let tok = TextTokenizer::byte();
    let identity = Identity { vocab_size: tok.vocab_size() };
    let pipeline = Pipeline::new(&tok, &identity);
    let config = DataConfig { split: SplitMode::Tail, cache_dir: Some(dir.path().join("cache")), ..Default::default() };
    let data = load_dataset(&config, std::slice::from_ref(&path), pipeline, "t", 1, &Silent).unwrap();
    assert_eq!(data.train.num_tokens() + data.val.num_tokens(), written + 2);
    let peak = peak_rss_mb();
    // Whole, the file would take 200 MB, its ids as u32 800 MB more.
    assert!(peak < before + 600, "peak resident memory {peak} MB, {before} MB before tokenizing");
    // Its ids are on disk as u16, and read in place.
    let cache = walk(&dir.path().join("cache"));
    assert!(cache < 2 * written as u64 + 4096, "{cache} bytes of cache");
    let val = data.val.doc(0);
    assert_eq!(val[val.len() - 1], tok.specials().eos);
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| if e.path().is_dir() { walk(&e.path()) } else { e.metadata().unwrap().len() })
        .sum()
}
