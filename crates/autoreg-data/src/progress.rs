//! How long steps say how far they are, without drawing anything: the command line
//! draws bars; libraries and tests stay silent.

/// Told of a step's items as they are done. Called from many threads at once.
pub trait Progress: Sync {
    /// A step of `total` items begins; `what` names them, such as "tokenizing files".
    fn begin(&self, what: &str, total: u64);

    /// A step over `total` bytes begins (shown with its rate); `advance` counts bytes.
    fn begin_bytes(&self, what: &str, total: u64) {
        self.begin(what, total);
    }

    /// `n` more items are done.
    fn advance(&self, n: u64);

    /// The step is over.
    fn end(&self);
}

/// Progress that nobody watches.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _what: &str, _total: u64) {}

    fn advance(&self, _n: u64) {}

    fn end(&self) {}
}
