//! What the codec's network sees of a signal, and the way back: audio's log magnitude
//! spectra (the phase recovered by Griffin-Lim), an image's pixels as channels.

use crate::config::CodecConfig;
use autoreg_tokens::SignalShape;
use tch::{Device, Kind, Tensor};

/// How signals of one shape become the network's features and back.
pub(crate) enum Features {
    /// Audio: log magnitudes (B, bins, F), one frame per hop.
    Wave { spectral: Spectral, griffin_lim: usize },
    /// Images: values (B, C, H, W).
    Image { width: i64, height: i64, channels: i64 },
}

impl Features {
    /// The features of signals of `shape` for a codec of `config`.
    pub(crate) fn new(config: &CodecConfig, shape: SignalShape) -> Self {
        match shape {
            SignalShape::Wave { .. } => {
                Self::Wave { spectral: Spectral::new(config), griffin_lim: config.griffin_lim() }
            }
            SignalShape::Image { width, height, channels } => {
                Self::Image { width: width.into(), height: height.into(), channels: channels.into() }
            }
        }
    }

    /// Channels of the features: frequency bins, or colours.
    pub(crate) fn channels(config: &CodecConfig, shape: SignalShape) -> i64 {
        match shape {
            SignalShape::Wave { .. } => (config.n_fft() / 2 + 1) as i64,
            SignalShape::Image { channels, .. } => channels.into(),
        }
    }

    /// Values a signal must hold a whole number of, for codes to cover it: a code's
    /// samples, or a row of codes' pixel rows.
    pub(crate) fn quantum(&self, config: &CodecConfig, shape: SignalShape) -> usize {
        match self {
            Self::Wave { .. } => config.values_per_code(shape),
            Self::Image { width, channels, .. } => (width * channels) as usize * config.downsample(),
        }
    }

    /// Values of one whole signal, if signals have one size.
    pub(crate) fn whole(&self) -> Option<usize> {
        match self {
            Self::Wave { .. } => None,
            Self::Image { width, height, channels } => Some((width * height * channels) as usize),
        }
    }

    /// The features of signals (B, N), N a multiple of [`Features::quantum`] (and for
    /// images, the whole image): (B, bins, N / hop), or (B, C, H, W).
    pub(crate) fn of(&self, values: &Tensor) -> Tensor {
        match self {
            Self::Wave { spectral, .. } => spectral.log_magnitude(values),
            Self::Image { width, height, channels } => {
                values.view([-1, *height, *width, *channels]).permute([0, 3, 1, 2]).contiguous()
            }
        }
    }

    /// Signals (B, N) of features: Griffin-Lim's wave of magnitudes, or the pixels; in
    /// `[-1, 1]`.
    pub(crate) fn values(&self, x: &Tensor) -> Tensor {
        let b = x.size()[0];
        let values = match self {
            Self::Wave { spectral, griffin_lim } => spectral.griffin_lim(x, *griffin_lim),
            Self::Image { .. } => x.permute([0, 2, 3, 1]).reshape([b, -1]),
        };
        values.clamp(-1.0, 1.0)
    }
}

/// The short-time Fourier transform of the codec: a Hann window of `n_fft` values,
/// `hop` apart, one frame per hop.
pub(crate) struct Spectral {
    n_fft: i64,
    hop: i64,
    window: Tensor,
}

/// The smallest magnitude kept before the logarithm: silence.
pub(crate) const FLOOR: f64 = 1e-5;

impl Spectral {
    pub(crate) fn new(config: &CodecConfig) -> Self {
        let n_fft = config.n_fft() as i64;
        Self { n_fft, hop: config.hop() as i64, window: Tensor::hann_window(n_fft, (Kind::Float, Device::Cpu)) }
    }

    /// The transform of waves (B, N), frames centred on every hop from the first value
    /// (as `torch.stft(center=True, pad_mode="constant")`; libtorch refuses that
    /// overload with tch's arguments, so the padding is done here).
    fn stft(&self, wave: &Tensor) -> Tensor {
        let half = self.n_fft / 2;
        let padded = wave.constant_pad_nd([half, half]);
        padded.stft(self.n_fft, self.hop, self.n_fft, Some(&self.window), false, true, true, false)
    }

    /// Log magnitudes (B, bins, N / hop) of waves (B, N), N a multiple of the hop: the
    /// frame centred on each hop's first value.
    pub(crate) fn log_magnitude(&self, wave: &Tensor) -> Tensor {
        let frames = wave.size()[1] / self.hop;
        self.stft(wave).abs().narrow(2, 0, frames).clamp_min(FLOOR).log()
    }

    /// Waves (B, length) whose log magnitudes are close to `log_magnitude` (B, bins, F),
    /// length = F · hop: fast Griffin-Lim (Perraudin et al. 2013, momentum 0.99) from
    /// zero phase, `iterations` times.
    pub(crate) fn griffin_lim(&self, log_magnitude: &Tensor, iterations: usize) -> Tensor {
        let (b, bins, frames) = log_magnitude.size3().unwrap_or((0, 0, 0));
        let length = frames * self.hop;
        // The transform of a wave of `length` values has one frame more: silence.
        let floor = Tensor::full([b, bins, 1], FLOOR.ln(), (Kind::Float, Device::Cpu));
        let magnitude = Tensor::cat(&[log_magnitude, &floor], 2).exp();
        let istft = |spectrum: &Tensor| {
            spectrum.istft(self.n_fft, self.hop, self.n_fft, Some(&self.window), true, false, true, length, false)
        };
        let unit = |spectrum: &Tensor| spectrum / (spectrum.abs() + 1e-16);
        let momentum = 0.99 / 1.99;
        let mut angles = Tensor::polar(&magnitude.ones_like(), &magnitude.zeros_like());
        let mut previous = angles.zeros_like();
        for _ in 0..iterations {
            let rebuilt = self.stft(&istft(&(&magnitude * &angles)));
            angles = unit(&(&rebuilt - momentum * &previous));
            previous = rebuilt;
        }
        istft(&(&magnitude * &angles))
    }
}
