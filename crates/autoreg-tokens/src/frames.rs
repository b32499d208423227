//! Documents made of frames: every frame is opened by one frame token and holds the
//! same number of ids, so that windows and sampling can slide by whole frames.

/// Where a document's frames start and how many a window keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// The id that opens every frame.
    pub token: u32,
    /// Ids per frame, its frame token included.
    pub len: usize,
    /// Whole frames a window keeps before the current one.
    pub context: usize,
}

impl FrameLayout {
    /// Ids a window holds at most: the current frame and `context` before it.
    pub fn span(&self) -> usize {
        (self.context + 1) * self.len
    }

    /// Where the first frame of `ids` starts: its first frame token, or its end when it
    /// has none (a prompt of BOS alone), where the next frame starts.
    pub fn first_start(&self, ids: &[u32]) -> usize {
        ids.iter().position(|&t| t == self.token).unwrap_or(ids.len())
    }

    /// The positions of `doc` where frames start.
    pub fn starts(&self, doc: &[u32]) -> Vec<usize> {
        doc.iter().enumerate().filter(|&(_, &t)| t == self.token).map(|(i, _)| i).collect()
    }

    /// Checks that windows of `span` ids fit in a model of `block` positions; the reason
    /// names the keys.
    pub fn check_block(&self, block: usize) -> Result<(), String> {
        if self.span() <= block {
            return Ok(());
        }
        Err(format!(
            "model.block_size {block} cannot hold data.context_frames + 1 = {} frames of {} tokens ({} tokens): \
             raise model.block_size to {} or lower data.context_frames",
            self.context + 1,
            self.len,
            self.span(),
            self.span()
        ))
    }
}

/// Frames of a modality's documents: `BOS [FRAME ids...]... EOS`, every frame of the
/// same length.
pub trait Frames {
    /// The base id that opens every frame.
    fn frame_token(&self) -> u32;

    /// Base ids per frame, the frame token included.
    fn frame_len(&self) -> usize;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_starts_and_block_check() {
        let layout = FrameLayout { token: 9, len: 3, context: 2 };
        assert_eq!(layout.span(), 9);
        assert_eq!(layout.starts(&[8, 9, 0, 1, 9, 2, 2, 9, 0, 0, 7]), [1, 4, 7]);
        assert_eq!((layout.first_start(&[8, 9, 0]), layout.first_start(&[8])), (1, 1));
        assert_eq!(layout.check_block(9), Ok(()));
        let err = layout.check_block(8).unwrap_err();
        assert!(err.contains("model.block_size 8") && err.contains("3 frames of 3 tokens"), "{err}");
    }
}
