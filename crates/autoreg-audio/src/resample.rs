//! Changing the sample rate with rubato's FFT resampler.

use autoreg_tokens::TokenError;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Most samples that resampling may give (2^28, over 9 hours at 8 kHz, 1 GiB).
pub(crate) const MAX_SAMPLES: usize = 1 << 28;

/// Frames per chunk given to the resampler.
const CHUNK: usize = 1024;

/// Resamples mono `samples` from `from` Hz to `to` Hz. The result holds exactly
/// `ceil(len * to / from)` samples. `name` identifies the recording in errors.
pub(crate) fn resample(samples: Vec<f32>, from: u32, to: u32, name: &str) -> Result<Vec<f32>, TokenError> {
    if from == to || samples.is_empty() {
        return Ok(samples);
    }
    let bad =
        |e: &dyn std::fmt::Display| TokenError::format(name, format!("cannot resample {from} Hz to {to} Hz: {e}"));
    if from == 0 || to == 0 {
        return Err(bad(&"rates must be positive"));
    }
    let len = samples.len();
    let out_len = (len as u64 * u64::from(to)).div_ceil(u64::from(from));
    if out_len > MAX_SAMPLES as u64 {
        return Err(bad(&format!("{len} samples would become {out_len}, more than the {MAX_SAMPLES} allowed")));
    }
    let out_len = out_len as usize;
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Input).map_err(|e| bad(&e))?;
    let input = InterleavedSlice::new(&samples, 1, len).map_err(|e| bad(&e))?;
    let mut out = resampler.process_all(&input, len, None).map_err(|e| bad(&e))?.take_data();
    out.resize(out_len, 0.0);
    Ok(out)
}
