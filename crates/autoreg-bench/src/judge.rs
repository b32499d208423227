//! The judges of generated sound: MFCC summaries of a recording and a nearest-neighbour
//! classifier over them; FSDD's recordings split as its upstream splits them.

use anyhow::{Context, Result, bail};
use autoreg_audio::AudioTokenizer;
use autoreg_tokens::Pipeline;
use realfft::RealFftPlanner;
use std::path::PathBuf;

/// Prints one line of a judged set: how many of `labels` (the judge's labels of the
/// samples drawn for `target`) are `target`, and the others; returns how many are.
pub fn print_tally(target: &str, labels: &[&str]) -> usize {
    let right = labels.iter().filter(|l| **l == target).count();
    let mut others: Vec<&str> = labels.iter().copied().filter(|l| *l != target).collect();
    others.sort_unstable();
    println!(
        "  {target:>10}: {right:>3}/{} = {:5.1}%{}",
        labels.len(),
        100.0 * right as f64 / labels.len().max(1) as f64,
        if others.is_empty() { String::new() } else { format!("   (others judged {})", others.join(", ")) }
    );
    right
}

/// Prints whose voices samples are like: how many times each speaker's recording was the
/// nearest.
pub fn print_voices(speakers: &std::collections::BTreeMap<String, usize>) {
    let listed: Vec<String> = speakers.iter().map(|(who, n)| format!("{who} {n}")).collect();
    println!("  voices (the speaker of each sample's nearest FSDD training recording): {}", listed.join(", "));
}

/// The samples (mono, in `[-1, 1]`) and rate of the recording that `ids` decode to.
pub fn decoded_samples(pipeline: Pipeline<'_>, ids: &[u32]) -> Result<(Vec<f32>, u32)> {
    let decoded = pipeline.decode(ids)?;
    let reader = hound::WavReader::new(std::io::Cursor::new(decoded.bytes)).context("the decoded WAV")?;
    let rate = reader.spec().sample_rate;
    let scale = f32::from(i16::MAX);
    let samples = reader.into_samples::<i16>().map(|s| s.map(|v| f32::from(v) / scale)).collect::<Result<_, _>>()?;
    Ok((samples, rate))
}

/// A nearest-neighbour judge: examples' features with their labels, each feature
/// standardized by the examples' mean and deviation.
pub struct Judge {
    features: Vec<Vec<f32>>,
    /// The examples' labels.
    pub labels: Vec<String>,
    mean: Vec<f32>,
    scale: Vec<f32>,
}

impl Judge {
    /// The judge of `examples`: features and labels.
    pub fn new(examples: Vec<(Vec<f32>, String)>) -> Self {
        let (all, labels): (Vec<Vec<f32>>, Vec<String>) = examples.into_iter().unzip();
        let dims = all.first().map_or(0, Vec::len);
        let n = all.len().max(1) as f32;
        let mean: Vec<f32> = (0..dims).map(|j| all.iter().map(|f| f[j]).sum::<f32>() / n).collect();
        let scale: Vec<f32> = (0..dims)
            .map(|j| {
                let var = all.iter().map(|f| (f[j] - mean[j]).powi(2)).sum::<f32>() / n;
                if var > 1e-12 { 1.0 / var.sqrt() } else { 1.0 }
            })
            .collect();
        let mut judge = Self { features: Vec::new(), labels, mean, scale };
        judge.features = all.iter().map(|f| judge.standardized(f)).collect();
        judge
    }

    fn standardized(&self, f: &[f32]) -> Vec<f32> {
        f.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| (v - m) * s).collect()
    }

    /// The label of the example nearest to `features` (squared L2).
    pub fn label(&self, features: &[f32]) -> &str {
        nearest(&self.features, &self.standardized(features)).map_or("", |i| self.labels[i].as_str())
    }
}

/// The index of the example nearest to `x` (squared L2; ties go to the first), `None`
/// when there is none: the search of every nearest-neighbour judge.
pub fn nearest(examples: &[Vec<f32>], x: &[f32]) -> Option<usize> {
    let distance = |e: &Vec<f32>| e.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
    examples.iter().map(distance).enumerate().min_by(|a, b| a.1.total_cmp(&b.1)).map(|(i, _)| i)
}

/// Mel bands, and MFCCs kept of them.
const MEL_BANDS: usize = 26;
pub const MFCCS: usize = 13;

/// 13 MFCCs of each 25 ms frame (10 ms apart, Hamming window, pre-emphasis 0.97): log
/// energies of 26 triangular mel bands from 20 Hz to half the rate
/// ([`autoreg_codec::mel_filters`]), then a DCT-II. Written here because no maintained
/// Rust crate computes MFCCs; realfft does the transform.
pub fn mfcc_frames(samples: &[f32], rate: u32) -> Vec<[f32; MFCCS]> {
    let frame = (0.025 * f64::from(rate)) as usize;
    let hop = (0.010 * f64::from(rate)) as usize;
    let n_fft = frame.next_power_of_two();
    let mut emphasized: Vec<f32> = std::iter::once(samples.first().copied().unwrap_or(0.0))
        .chain(samples.windows(2).map(|w| w[1] - 0.97 * w[0]))
        .collect();
    emphasized.resize(emphasized.len().max(frame), 0.0);
    let window: Vec<f32> =
        (0..frame).map(|i| 0.54 - 0.46 * (2.0 * std::f32::consts::PI * i as f32 / (frame - 1) as f32).cos()).collect();
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
    let bins = n_fft / 2 + 1;
    let filters = autoreg_codec::mel_filters(MEL_BANDS, n_fft, rate);
    let mut coefficients: Vec<[f32; MFCCS]> = Vec::new();
    let (mut input, mut spectrum) = (fft.make_input_vec(), fft.make_output_vec());
    for start in (0..=emphasized.len() - frame).step_by(hop.max(1)) {
        input.iter_mut().for_each(|v| *v = 0.0);
        for (i, (v, w)) in emphasized[start..start + frame].iter().zip(&window).enumerate() {
            input[i] = v * w;
        }
        if fft.process(&mut input, &mut spectrum).is_err() {
            continue;
        }
        let power: Vec<f64> = spectrum.iter().map(|c| f64::from(c.norm_sqr()) / n_fft as f64).collect();
        let energies: Vec<f64> = filters
            .chunks_exact(bins)
            .map(|band| {
                let e: f64 = band.iter().zip(&power).map(|(w, p)| f64::from(*w) * p).sum();
                (e + 1e-10).ln()
            })
            .collect();
        let mut c = [0f32; MFCCS];
        for (n, out) in c.iter_mut().enumerate() {
            let sum: f64 = energies
                .iter()
                .enumerate()
                .map(|(m, e)| e * (std::f64::consts::PI * n as f64 * (m as f64 + 0.5) / MEL_BANDS as f64).cos())
                .sum();
            *out = sum as f32;
        }
        coefficients.push(c);
    }
    coefficients
}

/// The means and standard deviations of [`mfcc_frames`] over the frames: what the judges
/// compare.
pub fn mfcc_summary(samples: &[f32], rate: u32) -> Vec<f32> {
    let coefficients = mfcc_frames(samples, rate);
    let n = coefficients.len().max(1) as f32;
    let mean: Vec<f32> = (0..MFCCS).map(|j| coefficients.iter().map(|c| c[j]).sum::<f32>() / n).collect();
    let std: Vec<f32> =
        (0..MFCCS).map(|j| (coefficients.iter().map(|c| (c[j] - mean[j]).powi(2)).sum::<f32>() / n).sqrt()).collect();
    [mean, std].concat()
}

/// Mel-cepstral distortion in dB between two recordings, frame by frame over the frames
/// both have: (10 / ln 10) · sqrt(2 · Σ (c_d − c'_d)²) over cepstra 1 to 12 (c_0, the
/// energy, left out), averaged. The cepstra are those of [`mfcc_frames`] rescaled to
/// the orthonormal DCT of log amplitudes, as the formula expects.
pub fn mel_cepstral_distortion(a: &[f32], b: &[f32], rate: u32) -> f64 {
    // Log power is twice log amplitude; the DCT-II of `mfcc_frames` is sqrt(M / 2)
    // times the orthonormal one.
    let scale = 0.5 * (2.0 / MEL_BANDS as f64).sqrt();
    let (fa, fb) = (mfcc_frames(a, rate), mfcc_frames(b, rate));
    let frames = fa.len().min(fb.len());
    let total: f64 = fa
        .iter()
        .zip(&fb)
        .map(|(x, y)| {
            let sum: f64 = (1..MFCCS).map(|d| (scale * f64::from(x[d] - y[d])).powi(2)).sum();
            10.0 / std::f64::consts::LN_10 * (2.0 * sum).sqrt()
        })
        .sum();
    total / frames.max(1) as f64
}

/// An FSDD recording: its samples as the tokenizer reads them, its digit and speaker,
/// its path.
pub struct Recording {
    /// The file.
    pub path: PathBuf,
    /// Mono samples at the tokenizer's rate.
    pub samples: Vec<f32>,
    /// The digit spoken.
    pub digit: String,
    /// Who speaks it.
    pub speaker: String,
}

/// FSDD's recordings under the data root, read as `audio` reads them: the training ones
/// (index 5 to 49) and the test split (index 0 to 4).
pub fn fsdd(audio: &AudioTokenizer) -> Result<(Vec<Recording>, Vec<Recording>)> {
    let dir = autoreg_data::find_data("fsdd/recordings")?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| dir.display().to_string())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "wav"));
    paths.sort();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for path in paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let fields: Vec<&str> = name.trim_end_matches(".wav").split('_').collect();
        let [digit, speaker, index] = fields[..] else { bail!("{}: not an FSDD name", path.display()) };
        let index: u32 = index.parse().with_context(|| format!("{}: not an FSDD name", path.display()))?;
        let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
        let samples = audio.load_samples(&bytes, &path.display().to_string())?;
        let recording = Recording { path: path.clone(), samples, digit: digit.to_owned(), speaker: speaker.to_owned() };
        if index < 5 { test.push(recording) } else { train.push(recording) }
    }
    if train.is_empty() || test.is_empty() {
        bail!("{}: FSDD's training recordings (index 5 to 49) and test split are both needed", dir.display());
    }
    Ok((train, test))
}
