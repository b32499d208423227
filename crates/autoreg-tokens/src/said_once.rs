//! Warnings said once per data set.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which of `N` kinds of notice (a lossy conversion, say) a tokenizer has already
/// reported, so that a data set of a thousand stereo files gets one line, naming the
/// first. Kept beside a tokenizer and never saved: a loaded tokenizer starts afresh.
#[derive(Debug)]
pub struct SaidOnce<const N: usize>([AtomicBool; N]);

impl<const N: usize> SaidOnce<N> {
    /// Warns (`log::warn!`) `"{name} {what} (said once; other files may be too)"`, unless
    /// a notice of kind `kind` (below `N`) was said before. A kind out of range is
    /// always said.
    pub fn warn(&self, kind: usize, name: &str, what: &dyn Display) {
        if !self.0.get(kind).is_some_and(|said| said.swap(true, Ordering::Relaxed)) {
            log::warn!("{name} {what} (said once; other files may be too)");
        }
    }
}

impl<const N: usize> Default for SaidOnce<N> {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicBool::new(false)))
    }
}

/// A copy knows what the original has said, and does not say it again.
impl<const N: usize> Clone for SaidOnce<N> {
    fn clone(&self) -> Self {
        Self(std::array::from_fn(|i| AtomicBool::new(self.0[i].load(Ordering::Relaxed))))
    }
}

/// Always equal: what was said is not part of what a tokenizer is.
impl<const N: usize> PartialEq for SaidOnce<N> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_said_once_and_copies_remember() {
        let said = SaidOnce::<2>::default();
        assert!(!said.0[0].load(Ordering::Relaxed));
        said.warn(0, "a.wav", &"is stereo");
        said.warn(0, "b.wav", &"is stereo");
        assert!(said.0[0].load(Ordering::Relaxed) && !said.0[1].load(Ordering::Relaxed));
        let copy = said.clone();
        assert!(copy.0[0].load(Ordering::Relaxed));
        assert!(copy == SaidOnce::default());
    }
}
