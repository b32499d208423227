//! Warnings about inputs: said through the `log` crate (the `autoreg` command prints
//! them), recorded for the data cache, and said once per data set where many files
//! would repeat them.

use std::cell::RefCell;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// The warnings of the [`capture`] running on this thread, if any.
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Warns the user about an input (`log::warn!`), and records the message for the
/// [`capture`] running on this thread.
pub fn warn(message: String) {
    log::warn!("{message}");
    CAPTURED.with_borrow_mut(|c| c.as_mut().map(|c| c.push(message)));
}

/// Runs `f` and returns its result with the warnings it gave through [`warn`] on this
/// thread, so that a data cache can say them again when it is read instead of the files.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let outer = CAPTURED.with_borrow_mut(|c| c.replace(Vec::new()));
    let result = f();
    let warnings = CAPTURED.with_borrow_mut(|c| std::mem::replace(c, outer)).unwrap_or_default();
    (result, warnings)
}

/// Which of `N` kinds of notice (a lossy conversion, say) a tokenizer has already
/// reported, so that a data set of a thousand stereo files gets one line, naming the
/// first. Kept beside a tokenizer and never saved: a loaded tokenizer starts afresh.
#[derive(Debug)]
pub struct SaidOnce<const N: usize>([AtomicBool; N]);

impl<const N: usize> SaidOnce<N> {
    /// Warns ([`warn`]) `"{name} {what} (said once; other files may be too)"`, unless
    /// a notice of kind `kind` (below `N`) was said before. A kind out of range is
    /// always said.
    pub fn warn(&self, kind: usize, name: &str, what: &dyn Display) {
        if !self.0.get(kind).is_some_and(|said| said.swap(true, Ordering::Relaxed)) {
            warn(format!("{name} {what} (said once; other files may be too)"));
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
    fn capture_records_this_threads_warnings_and_nests() {
        let ((inner, n), outer) = capture(|| {
            warn("a.mid: truncated".into());
            let inner = capture(|| warn("b.mid: truncated".into()));
            std::thread::spawn(|| warn("elsewhere".into())).join().unwrap();
            (inner.1, 1)
        });
        assert_eq!((inner, n, outer), (vec!["b.mid: truncated".to_owned()], 1, vec!["a.mid: truncated".to_owned()]));
        assert!(capture(|| ()).1.is_empty());
    }

    #[test]
    fn each_kind_is_said_once_and_copies_remember() {
        let said = SaidOnce::<2>::default();
        assert!(!said.0[0].load(Ordering::Relaxed));
        let ((), said_once) = capture(|| {
            said.warn(0, "a.dat", &"is stereo");
            said.warn(0, "b.dat", &"is stereo");
        });
        assert_eq!(said_once, ["a.dat is stereo (said once; other files may be too)"]);
        assert!(said.0[0].load(Ordering::Relaxed) && !said.0[1].load(Ordering::Relaxed));
        let copy = said.clone();
        assert!(copy.0[0].load(Ordering::Relaxed));
        assert!(copy == SaidOnce::default());
    }
}
