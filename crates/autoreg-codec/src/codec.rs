//! A trained codec: its settings, its weights (held outside libtorch, so that a codec
//! is plain data that threads share), their file and checksum, and encoding and
//! decoding.

use crate::config::CodecConfig;
use crate::error::CodecError;
use crate::features::{Features, Spectral};
use crate::net::{Net, buffer_shapes, shapes};
use autoreg_tokens::SignalShape;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tch::Tensor;

/// What training measured, saved with the codec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trained {
    /// Steps taken.
    pub steps: usize,
    /// Seconds they took.
    pub seconds: f64,
    /// Signals (runs of values) it was trained on.
    pub signals: usize,
    /// Values they held.
    pub values: usize,
    /// Mean absolute error of the standardized features (log magnitudes, pixels) over
    /// the training signals.
    pub reconstruction_l1: f64,
    /// Perplexity of the codes given to the training signals: how many codes are in use.
    pub perplexity: f64,
}

/// Named tensors as `(name, shape, values)`.
#[derive(Clone, PartialEq)]
pub(crate) struct Weights(pub(crate) Vec<(String, Vec<i64>, Vec<f32>)>);

/// A trained codec, as `tokenizer.json` saves it: settings, shape of the signal, the
/// weights' file (beside `tokenizer.json`) and its BLAKE3 checksum. The weights are
/// attached when the file is read and checked ([`Codec::attach`]).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Codec {
    config: CodecConfig,
    shape: SignalShape,
    file: String,
    blake3: String,
    trained: Trained,
    #[serde(skip)]
    weights: OnceLock<Arc<Weights>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("config", &self.config)
            .field("shape", &self.shape)
            .field("file", &self.file)
            .field("blake3", &self.blake3)
            .field("attached", &self.weights.get().is_some())
            .finish()
    }
}

impl std::fmt::Display for Codec {
    /// `512 codes, 50 per second (450 bits/s), trained 3000 steps in 66 s: codec-audio.safetensors`,
    /// or `512 codes, 7x7 per 28x28 image (4x4 pixels a code, 441 bits an image), ...`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bits = f64::from(self.codebook_size()).log2();
        write!(f, "{} codes, ", self.codebook_size())?;
        match self.shape {
            SignalShape::Wave { .. } => {
                let per_second = self.codes_per_second().unwrap_or(0.0);
                write!(f, "{per_second} per second ({:.0} bits/s)", per_second * bits)?;
            }
            SignalShape::Image { width, height, .. } => {
                let side = self.config.downsample();
                let (columns, rows) = self.grid().unwrap_or((0, 0));
                write!(
                    f,
                    "{columns}x{rows} per {width}x{height} image ({side}x{side} pixels a code, {:.0} bits an image)",
                    (columns * rows) as f64 * bits
                )?;
            }
        }
        write!(f, ", trained {} steps in {:.0} s: {}", self.trained.steps, self.trained.seconds, self.file)
    }
}

impl Codec {
    /// A codec of `config` for signals of `shape` with the tensors `named`, saved as
    /// `file`.
    pub(crate) fn new(
        config: CodecConfig,
        shape: SignalShape,
        file: String,
        named: &[(String, Tensor)],
        trained: Trained,
    ) -> Result<Self, CodecError> {
        let mut weights = Vec::new();
        for (name, shape) in shapes(&config, shape).into_iter().chain(buffer_shapes(&config, shape)) {
            let tensor = named
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t)
                .ok_or_else(|| CodecError::Data(format!("the trained network has no tensor {name}")))?;
            let values = Vec::<f32>::try_from(tensor.detach().to_kind(tch::Kind::Float).reshape([-1]))?;
            weights.push((name, shape, values));
        }
        let weights = Weights(weights);
        let blake3 = blake3::hash(&serialize(&weights)?).to_hex().to_string();
        let codec = Self { config, shape, file, blake3, trained, weights: OnceLock::new() };
        let _ = codec.weights.set(Arc::new(weights));
        Ok(codec)
    }

    /// The settings it was trained with.
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }

    /// The shape of the signals it encodes.
    pub fn shape(&self) -> SignalShape {
        self.shape
    }

    /// What training measured.
    pub fn trained(&self) -> &Trained {
        &self.trained
    }

    /// The weights' file name, beside `tokenizer.json`.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The BLAKE3 checksum of the weights' file, in hex.
    pub fn checksum(&self) -> &str {
        &self.blake3
    }

    /// Codes in the codebook: code ids are `0..codebook_size()`.
    pub fn codebook_size(&self) -> u32 {
        self.config.codebook_size as u32
    }

    /// Values that one code stands for.
    pub fn values_per_code(&self) -> usize {
        self.config.values_per_code(self.shape)
    }

    /// Codes per second of signal, for a signal over time.
    pub fn codes_per_second(&self) -> Option<f64> {
        match self.shape {
            SignalShape::Wave { rate } => Some(f64::from(rate) / self.values_per_code() as f64),
            SignalShape::Image { .. } => None,
        }
    }

    /// Bits per second of signal that the codes carry, for a signal over time.
    pub fn bits_per_second(&self) -> Option<f64> {
        Some(self.codes_per_second()? * f64::from(self.codebook_size()).log2())
    }

    /// Codes of one whole signal, for signals of one size (images).
    pub fn codes_per_signal(&self) -> Option<usize> {
        self.grid().map(|(columns, rows)| columns * rows)
    }

    /// An image's codes: (columns, rows), one per `downsample` pixels square.
    fn grid(&self) -> Option<(usize, usize)> {
        match self.shape {
            SignalShape::Wave { .. } => None,
            SignalShape::Image { width, height, .. } => {
                let side = self.config.downsample();
                Some((width as usize / side, height as usize / side))
            }
        }
    }

    fn weights(&self) -> Result<&Weights, CodecError> {
        self.weights.get().map(Arc::as_ref).ok_or_else(|| {
            CodecError::weights(&self.file, "the codec's weights were not read: load the tokenizer from its file")
        })
    }

    fn net(&self) -> Result<Net, CodecError> {
        let tensors = self
            .weights()?
            .0
            .iter()
            .map(|(name, shape, values)| (name.clone(), Tensor::from_slice(values).reshape(shape.as_slice())))
            .collect::<HashMap<_, _>>();
        Ok(Net::new(tensors, &self.config, self.shape))
    }

    /// The codes of a signal. Audio: one per [`Codec::values_per_code`] values, the
    /// last one padded with silence. An image: its codes in raster order; the top rows
    /// of an image (a prompt) give the rows of codes they cover whole, the rows below
    /// them filled by repeating the last one. No values, no codes; more values than an
    /// image holds are an error.
    pub fn encode(&self, values: &[f32]) -> Result<Vec<u32>, CodecError> {
        let features = Features::new(&self.config, self.shape);
        let quantum = features.quantum(&self.config, self.shape);
        let (padded, keep) = match features.whole() {
            None => {
                let mut padded = values.to_vec();
                padded.resize(values.len().div_ceil(quantum) * quantum, 0.0);
                (padded, None)
            }
            Some(whole) => {
                if values.len() > whole {
                    return Err(CodecError::Data(format!(
                        "an image of {} values, more than the {whole} that the codec's images hold",
                        values.len()
                    )));
                }
                let row = quantum / self.config.downsample();
                let given = values.len() - values.len() % row;
                let mut padded = values[..given].to_vec();
                while padded.len() < whole {
                    let last = padded.len().checked_sub(row).map_or(vec![0.0; row], |at| padded[at..].to_vec());
                    padded.extend(last);
                }
                (padded, Some(values.len() / quantum * (quantum / self.values_per_code())))
            }
        };
        if values.is_empty() || keep == Some(0) {
            return Ok(Vec::new());
        }
        let net = self.net()?;
        let codes = tch::no_grad(|| {
            let signal = Tensor::from_slice(&padded).view([1, -1]); // (1, N)
            let x = net.standardize(&features.of(&signal)); // (1, C, F...)
            net.quantize(&net.encode(&x)).0.reshape([-1]) // (T)
        });
        let mut codes: Vec<u32> = Vec::<i64>::try_from(codes)?.into_iter().map(|c| c as u32).collect();
        codes.truncate(keep.unwrap_or(codes.len()));
        Ok(codes)
    }

    /// The signal of `codes`, in `[-1, 1]`. Audio: [`Codec::values_per_code`] values per
    /// code. An image: the pixel rows of the rows of codes given whole, at most one
    /// image's (codes past it are dropped). Codes outside the codebook are an error.
    pub fn decode(&self, codes: &[u32]) -> Result<Vec<f32>, CodecError> {
        if let Some(&bad) = codes.iter().find(|&&c| c >= self.codebook_size()) {
            return Err(CodecError::Data(format!("code {bad} is outside the codebook of {}", self.codebook_size())));
        }
        let features = Features::new(&self.config, self.shape);
        let mut codes: Vec<i64> = codes.iter().map(|&c| i64::from(c)).collect();
        let mut grid = vec![1, codes.len() as i64];
        let mut keep = None;
        if let Some((columns, rows)) = self.grid() {
            let whole = columns * rows;
            codes.truncate(codes.len() / columns * columns);
            codes.truncate(whole);
            keep = Some(codes.len() * self.values_per_code());
            while !codes.is_empty() && codes.len() < whole {
                codes.extend_from_within(codes.len() - columns..);
            }
            grid = vec![1, rows as i64, columns as i64];
        }
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let net = self.net()?;
        let values = tch::no_grad(|| {
            let z = net.lookup(&Tensor::from_slice(&codes).view(grid.as_slice())); // (1, D, T...)
            features.values(&net.unstandardize(&net.decode(&z))).reshape([-1]) // (N)
        });
        let mut values = Vec::<f32>::try_from(values)?;
        values.truncate(keep.unwrap_or(values.len()));
        Ok(values)
    }

    /// The weights as a safetensors file.
    fn to_bytes(&self) -> Result<Vec<u8>, CodecError> {
        serialize(self.weights()?)
    }

    /// Writes the weights to `dir`/[`Codec::file`] atomically, unless that file holds them.
    pub fn save(&self, dir: &Path) -> Result<(), CodecError> {
        let path = dir.join(&self.file);
        if std::fs::read(&path).is_ok_and(|bytes| blake3::hash(&bytes).to_hex().as_str() == self.blake3) {
            return Ok(());
        }
        autoreg_tokens::write_atomic(&path, &self.to_bytes()?)
            .map_err(|e| CodecError::weights(&path, format!("cannot write the codec's weights: {e}")))
    }

    /// Reads the weights from `dir`/[`Codec::file`], refusing a file whose checksum is
    /// not the one saved, or whose tensors are not this codec's.
    pub fn attach(&self, dir: &Path) -> Result<(), CodecError> {
        let path = dir.join(&self.file);
        let bytes = std::fs::read(&path).map_err(|source| CodecError::Io { path: path.clone(), source })?;
        let found = blake3::hash(&bytes).to_hex().to_string();
        if found != self.blake3 {
            return Err(CodecError::weights(
                &path,
                format!(
                    "the codec's weights do not match tokenizer.json (BLAKE3 {found}, expected {}): \
                     the file was changed or damaged",
                    self.blake3
                ),
            ));
        }
        let weights =
            deserialize(&bytes, &self.config, self.shape).map_err(|reason| CodecError::weights(&path, reason))?;
        let _ = self.weights.set(Arc::new(weights));
        Ok(())
    }
}

/// The weights as safetensors bytes, little-endian f32.
fn serialize(weights: &Weights) -> Result<Vec<u8>, CodecError> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = weights
        .0
        .iter()
        .map(|(name, shape, values)| {
            let shape = shape.iter().map(|&d| d as usize).collect();
            (name.clone(), shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| TensorView::new(Dtype::F32, shape.clone(), data).map(|v| (name.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CodecError::Data(format!("cannot write safetensors: {e:?}")))?;
    safetensors::serialize(views, &None).map_err(|e| CodecError::Data(format!("cannot write safetensors: {e:?}")))
}

/// The weights of a codec of `config` for signals of `signal` in safetensors `bytes`:
/// every tensor it needs, f32, of its shape.
fn deserialize(bytes: &[u8], config: &CodecConfig, signal: SignalShape) -> Result<Weights, String> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e:?}"))?;
    let mut weights = Vec::new();
    for (name, shape) in shapes(config, signal).into_iter().chain(buffer_shapes(config, signal)) {
        let view = file.tensor(&name).map_err(|_| format!("the codec's weights have no tensor {name}"))?;
        let found: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if view.dtype() != Dtype::F32 || found != shape {
            return Err(format!("tensor {name} is {:?} {found:?}, expected F32 {shape:?}", view.dtype()));
        }
        let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        weights.push((name, shape, values));
    }
    Ok(Weights(weights))
}

/// `values` through the codec's transform and back by Griffin-Lim alone, with no
/// network between: the bound that a codec of magnitudes with `config`'s transform can
/// reach.
pub fn griffin_lim_of(values: &[f32], config: &CodecConfig, iterations: usize) -> Result<Vec<f32>, CodecError> {
    let per = config.hop() * config.frames_per_code();
    let mut padded = values.to_vec();
    padded.resize(values.len().div_ceil(per).max(1) * per, 0.0);
    let spectral = Spectral::new(config);
    let wave = tch::no_grad(|| {
        let x = spectral.log_magnitude(&Tensor::from_slice(&padded).view([1, -1])); // (1, bins, F)
        spectral.griffin_lim(&x, iterations).reshape([-1]).clamp(-1.0, 1.0)
    });
    Ok(Vec::<f32>::try_from(wave)?)
}
