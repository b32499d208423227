//! Reading WAV files into mono samples in `[-1, 1]`.

use autoreg_tokens::TokenError;
use hound::{SampleFormat, WavReader, WavSpec};

/// Highest sample rate accepted, in Hz, in files and in the config.
pub(crate) const MAX_RATE: u32 = 768_000;

/// A recording mixed down to one channel.
pub(crate) struct Mono {
    /// Samples, full scale 1.0.
    pub(crate) samples: Vec<f32>,
    /// The file's format: rate in Hz, channels and sample format before mixing.
    pub(crate) spec: WavSpec,
}

/// Reads a WAV file (8, 16, 24 or 32-bit integer, 32-bit float) and averages its
/// channels. `name` identifies the file in errors.
pub(crate) fn read_wav(bytes: &[u8], name: &str) -> Result<Mono, TokenError> {
    let bad = |reason: String| TokenError::format(name, reason);
    let mut reader = WavReader::new(bytes).map_err(|e| bad(format!("not a readable WAV file: {e}")))?;
    let spec = reader.spec();
    if !(1..=MAX_RATE).contains(&spec.sample_rate) {
        return Err(bad(format!("sample rate {} Hz is outside 1..={MAX_RATE} Hz", spec.sample_rate)));
    }
    // Samples are read into memory sized by the header: check it against the bytes first.
    let declared = reader.len();
    let least_bytes = u64::from(declared) * u64::from(spec.bits_per_sample.div_ceil(8));
    if least_bytes > bytes.len() as u64 {
        return Err(bad(format!(
            "truncated: the header declares {declared} samples ({least_bytes} bytes or more), \
             the file is {} bytes long",
            bytes.len()
        )));
    }
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            reader.samples::<i32>().map(|s| s.map(|v| (f64::from(v) * scale) as f32)).collect::<Result<_, _>>()
        }
        (SampleFormat::Float, 32) => reader.samples::<f32>().collect::<Result<_, _>>(),
        (format, bits) => return Err(bad(format!("{bits}-bit {format:?} samples are not supported"))),
    }
    .map_err(|e| bad(format!("truncated or corrupt sample data (header declares {declared} samples): {e}")))?;
    if let Some(i) = interleaved.iter().position(|s| !s.is_finite()) {
        return Err(bad(format!("sample {i} is not a finite number")));
    }
    let channels = usize::from(spec.channels);
    if channels == 0 || !interleaved.len().is_multiple_of(channels) {
        return Err(bad(format!("{} samples do not make whole frames of {channels} channels", interleaved.len())));
    }
    let samples = interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect();
    Ok(Mono { samples, spec })
}
