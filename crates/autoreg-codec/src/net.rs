//! The codec's network, written once over named tensors so that training (a
//! `VarStore`'s variables) and encoding (weights read from a file) run the same code,
//! over one axis (audio's frames) or two (an image's rows and columns):
//!
//! - features ([`crate::features::Features`]): audio's log magnitude spectra, an image's
//!   pixels; standardized per channel (frequency bin, colour) with the training set's
//!   mean and deviation;
//! - encoder: convolutions (a residual block before and after one strided by the
//!   codec's stride), to one vector per code;
//! - quantizer: the nearest of the codebook's vectors (VQ-VAE, van den Oord et al.
//!   2017), the codebook kept as exponential moving averages of the vectors each code
//!   is given;
//! - decoder: the mirror of the encoder, back to standardized features.

use crate::config::CodecConfig;
use crate::features::Features;
use autoreg_tokens::SignalShape;
use std::collections::HashMap;
use tch::{Kind, Tensor};

/// Names and shapes of the trained weights of a codec of `config` for signals of
/// `shape`: convolutions over one axis for audio, two for images.
pub(crate) fn shapes(config: &CodecConfig, shape: SignalShape) -> Vec<(String, Vec<i64>)> {
    let features = Features::channels(config, shape);
    let c = config.channels as i64;
    let d = config.code_dim as i64;
    let (k, _, _) = resampling(config.stride(shape) as i64);
    let axes = match shape {
        SignalShape::Wave { .. } => 1,
        SignalShape::Image { .. } => 2,
    };
    // (name, out channels, in channels, kernel) of each convolution, in order. A
    // transposed convolution's weight is (in, out, kernel...).
    let layers = [
        ("enc.in", c, features, 3),
        ("enc.res1", c, c, 3),
        ("enc.down", c, c, k),
        ("enc.res2", c, c, 3),
        ("enc.out", d, c, 1),
        ("dec.in", c, d, 3),
        ("dec.res1", c, c, 3),
        ("dec.up", c, c, k),
        ("dec.res2", c, c, 3),
        ("dec.out", features, c, 3),
    ];
    let mut out = Vec::new();
    for (name, out_ch, in_ch, kernel) in layers {
        let mut weight = vec![out_ch, in_ch];
        weight.extend(std::iter::repeat_n(kernel, axes));
        out.push((format!("{name}.weight"), weight));
        out.push((format!("{name}.bias"), vec![out_ch]));
    }
    out
}

/// The buffers, not trained by gradient (the codebook, the features' statistics):
/// names and shapes.
pub(crate) fn buffer_shapes(config: &CodecConfig, shape: SignalShape) -> Vec<(String, Vec<i64>)> {
    let features = Features::channels(config, shape);
    vec![
        (CODEBOOK.into(), vec![config.codebook_size as i64, config.code_dim as i64]),
        (MEAN.into(), vec![features]),
        (STD.into(), vec![features]),
    ]
}

/// The codebook's name.
pub(crate) const CODEBOOK: &str = "vq.codebook";
/// The features' mean per bin.
pub(crate) const MEAN: &str = "features.mean";
/// The features' deviation per bin.
pub(crate) const STD: &str = "features.std";

/// Kernel, stride and padding of the convolution that goes from the signal's grid to
/// codes (and of the transposed one back): a kernel of two strides, so that each frame
/// or pixel is seen by two codes along each axis; with a stride of 1, a plain 3-wide
/// convolution.
fn resampling(stride: i64) -> (i64, i64, i64) {
    if stride == 1 { (3, 1, 1) } else { (2 * stride, stride, stride / 2) }
}

/// The network over its named tensors.
pub(crate) struct Net {
    tensors: HashMap<String, Tensor>,
    stride: i64,
}

impl Net {
    /// The network over `tensors`, which must hold every name of [`shapes`] and
    /// [`buffer_shapes`] with its shape (checked by the caller), for signals of `shape`.
    pub(crate) fn new(tensors: HashMap<String, Tensor>, config: &CodecConfig, shape: SignalShape) -> Self {
        Self { tensors, stride: config.stride(shape) as i64 }
    }

    fn get(&self, name: &str) -> &Tensor {
        // Every caller's names come from `shapes`, which the constructor's caller
        // checked the tensors against.
        &self.tensors[name]
    }

    /// Convolution `name` over the one or two axes after the channels of `x`.
    fn conv(&self, x: &Tensor, name: &str, stride: i64, padding: i64) -> Tensor {
        let (w, b) = (self.get(&format!("{name}.weight")), self.get(&format!("{name}.bias")));
        if x.dim() == 4 {
            x.conv2d(w, Some(b), [stride; 2], [padding; 2], [1; 2], 1)
        } else {
            x.conv1d(w, Some(b), [stride], [padding], [1], 1)
        }
    }

    /// `x + conv(gelu(x))`: a residual block. (Two blocks of dilations 1 and 3 in its
    /// place lowered the training L1, 0.290 against 0.296, but not the judge's accuracy
    /// on the reconstructions, 266 of 300 against 274, for 18% more time.)
    fn residual(&self, x: &Tensor, name: &str) -> Tensor {
        x + self.conv(&x.gelu("tanh"), name, 1, 1)
    }

    /// Standardized features (B, C, F) or (B, C, H, W) to code vectors (B, D, F / stride)
    /// or (B, D, H / stride, W / stride).
    pub(crate) fn encode(&self, x: &Tensor) -> Tensor {
        let (_, stride, padding) = resampling(self.stride);
        let h = self.conv(x, "enc.in", 1, 1); // (B, channels, F...)
        let h = self.residual(&h, "enc.res1");
        let h = self.conv(&h.gelu("tanh"), "enc.down", stride, padding); // (B, channels, T...)
        let h = self.residual(&h, "enc.res2");
        self.conv(&h.gelu("tanh"), "enc.out", 1, 0) // (B, D, T...)
    }

    /// Code vectors (B, D, T...) to standardized features (B, C, T · stride...).
    pub(crate) fn decode(&self, z: &Tensor) -> Tensor {
        let (_, stride, padding) = resampling(self.stride);
        let h = self.conv(z, "dec.in", 1, 1); // (B, channels, T...)
        let h = self.residual(&h, "dec.res1").gelu("tanh");
        let h = if self.stride == 1 {
            self.conv(&h, "dec.up", 1, 1)
        } else {
            let (w, b) = (self.get("dec.up.weight"), self.get("dec.up.bias"));
            if h.dim() == 4 {
                h.conv_transpose2d(w, Some(b), [stride; 2], [padding; 2], [0; 2], 1, [1; 2])
            } else {
                h.conv_transpose1d(w, Some(b), [stride], [padding], [0], 1, [1])
            }
        }; // (B, channels, F...)
        let h = self.residual(&h, "dec.res2");
        self.conv(&h.gelu("tanh"), "dec.out", 1, 1) // (B, C, F...)
    }

    /// The nearest code of each vector of `z` (B, D, T...): the codes (B, T...) and
    /// their vectors (B, D, T...).
    pub(crate) fn quantize(&self, z: &Tensor) -> (Tensor, Tensor) {
        let codebook = self.get(CODEBOOK); // (K, D)
        let d = codebook.size()[1];
        let last = z.movedim(&[1i64][..], &[-1i64][..]); // (B, T..., D)
        let grid: Vec<i64> = last.size()[..last.dim() - 1].to_vec();
        let codes = nearest(&last.reshape([-1, d]), codebook).reshape(grid.as_slice()); // (B, T...)
        let q = self.lookup(&codes);
        (codes, q)
    }

    /// The vectors (B, D, T...) of codes (B, T...).
    pub(crate) fn lookup(&self, codes: &Tensor) -> Tensor {
        let codebook = self.get(CODEBOOK);
        let mut shape = codes.size();
        shape.push(-1);
        codebook.index_select(0, &codes.reshape([-1])).reshape(shape.as_slice()).movedim(&[-1i64][..], &[1i64][..])
    }

    /// Codes in the codebook.
    pub(crate) fn codebook_size(&self) -> i64 {
        self.get(CODEBOOK).size()[0]
    }

    /// Standardizes features (B, C, F...) per channel.
    pub(crate) fn standardize(&self, x: &Tensor) -> Tensor {
        (x - per_channel(self.get(MEAN), x)) / per_channel(self.get(STD), x)
    }

    /// Undoes [`Net::standardize`].
    pub(crate) fn unstandardize(&self, x: &Tensor) -> Tensor {
        x * per_channel(self.get(STD), x) + per_channel(self.get(MEAN), x)
    }
}

/// `stat` (C) shaped to broadcast over the channels of `x` (B, C, F...).
pub(crate) fn per_channel(stat: &Tensor, x: &Tensor) -> Tensor {
    let mut shape = vec![1, -1];
    shape.extend(std::iter::repeat_n(1, x.dim() - 2));
    stat.view(shape.as_slice())
}

/// The index of the row of `codebook` (K, D) nearest to each row of `flat` (N, D).
pub(crate) fn nearest(flat: &Tensor, codebook: &Tensor) -> Tensor {
    let distances: Tensor = flat.pow_tensor_scalar(2).sum_dim_intlist([1i64].as_slice(), true, Kind::Float)
        - 2.0 * flat.matmul(&codebook.tr())
        + codebook.pow_tensor_scalar(2).sum_dim_intlist([1i64].as_slice(), false, Kind::Float).view([1, -1]);
    distances.argmin(1, false)
}
