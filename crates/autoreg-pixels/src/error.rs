use autoreg_tokens::TokenError;

/// What is wrong with one input, before the input's name is attached by [`InputError::at`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    /// Data that starts like gzip but does not inflate.
    #[error("not valid gzip data: {0}")]
    Gzip(std::io::Error),
    /// Gzip data that inflates past the limit (a gzip bomb, say).
    #[error("gzip data inflates to more than {limit} bytes")]
    Inflated {
        /// The most bytes inflated.
        limit: u64,
    },
    /// An image without pixels.
    #[error("image is {width}x{height} pixels: it holds nothing")]
    Empty {
        /// Its width, as its header says.
        width: u32,
        /// Its height, as its header says.
        height: u32,
    },
    /// An image with more pixels than any input may have.
    #[error("image is {width}x{height} pixels, more than the {limit} an input image may have")]
    TooLarge {
        /// Its width, as its header says.
        width: u32,
        /// Its height, as its header says.
        height: u32,
        /// The most pixels.
        limit: u64,
    },
    /// An image file the `image` crate cannot decode.
    #[error("corrupt {format} image: {source}")]
    Image {
        /// PNG, JPEG, BMP or GIF.
        format: &'static str,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// An image in a format this crate does not read.
    #[error("{format} images are not supported (PNG, JPEG, BMP and GIF are)")]
    Unsupported {
        /// The format that was recognised.
        format: String,
    },
    /// Bytes that are none of the supported formats.
    #[error("not a PNG, JPEG, BMP or GIF image, an IDX file, nor UTF-8 CSV rows of pixel values")]
    Unrecognised,
    /// An IDX header whose magic number is not unsigned-byte images or labels.
    #[error("IDX magic number 0x{magic:08x} is neither unsigned-byte images (0x00000803) nor labels (0x00000801)")]
    IdxMagic {
        /// The first four bytes, big-endian.
        magic: u32,
    },
    /// An IDX file whose length disagrees with its header.
    #[error("IDX file is {actual} bytes long, its header promises {expected}")]
    IdxLength {
        /// Bytes present.
        actual: usize,
        /// Bytes the header asks for.
        expected: u128,
    },
    /// An IDX labels file whose count differs from its images file's.
    #[error("{labels} labels for {images} images")]
    LabelCount {
        /// Labels in the labels file.
        labels: usize,
        /// Images in the images file.
        images: usize,
    },
    /// A CSV row that is not a row of pixel values and a label.
    #[error("CSV line {line}: {reason}")]
    Csv {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An image of another size while resizing is off.
    #[error("image {index} is {width}x{height}, not {expected_width}x{expected_height}, and resize is off")]
    Size {
        /// Index of the image inside the file (0 for a plain image file).
        index: usize,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The tokenizer's width.
        expected_width: u32,
        /// The tokenizer's height.
        expected_height: u32,
    },
    /// A conditional tokenizer given an image without a class.
    #[error(
        "image {index} has no class, which a conditional tokenizer needs \
         (put images in class subfolders, or keep the IDX labels file beside the images file)"
    )]
    NoClass {
        /// Index of the image inside the file.
        index: usize,
    },
    /// A class name the tokenizer did not learn.
    #[error("image {index} has class {class:?}, which is not one of the {known} classes learned at fit time")]
    UnknownClass {
        /// Index of the image inside the file.
        index: usize,
        /// The class name.
        class: String,
        /// How many classes the tokenizer has.
        known: usize,
    },
    /// A prompt cut the tokenizer cannot apply.
    #[error("{0}")]
    Prompt(String),
}

impl InputError {
    /// This error as a [`TokenError::Format`] for the input called `name`.
    pub(crate) fn at(self, name: &str) -> TokenError {
        TokenError::format(name, self.to_string())
    }
}
