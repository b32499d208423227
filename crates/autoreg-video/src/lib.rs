//! Video tokenizer (Video Pixel Networks style): a clip becomes `BOS [Class_k] [<frame>
//! pixels...]... EOS`, every frame in raster order as the pixels tokenizer writes an image
//! (grey levels, RGB sub-pixels or a learned palette), so that training windows and
//! sampling slide by whole frames. A conditional tokenizer takes a clip's class from its
//! name (`7_00042.gif`, by a label pattern). Grey and RGB frames carry a signal, so that
//! a learned image codec can turn each frame into a grid of codes (VideoGPT's recipe).
//!
//! Inputs are animated GIFs (every frame) and folders of PNG frames (one clip per
//! folder). A folder's frames go by the number their names end with (`frame-7.png`
//! before `frame-10.png`), names of one number by name; when no name ends in a number
//! they go by name; a folder that mixes the two is refused, naming a file of each kind.
//! Every frame of a folder takes its first frame's size: a frame of another size is
//! skipped with the reason (the data set counts its file as skipped), and the clip is
//! cut there into two documents, since windows of frames need frames that follow each
//! other. Frames are brought to one size by the pixels tokenizer, which this crate
//! wraps: its reading, resizing, quantisation and palette are the frames'. Decoded clips
//! are animated GIFs, with a contact sheet PNG (the frames side by side) beside each.
//!
//! [`moving_mnist`] builds the Moving MNIST data set from MNIST digits, and [`dataset`]
//! is the command that writes one (`autoreg dataset moving-mnist`).

mod config;
pub mod dataset;
pub mod moving_mnist;
mod read;
mod tokenizer;
mod write;

pub use config::VideoConfig;
pub use tokenizer::VideoTokenizer;
pub use write::encode_gif;
