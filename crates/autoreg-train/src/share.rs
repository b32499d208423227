//! How the ranks of a data-parallel run split each step's global batch.

use tch::Tensor;

/// The part of every step's global batch (`grad_accum` micro-batches of `batch_size`
/// windows) that one rank computes. Every rank draws the whole global batch, with the
/// step's seed, and keeps its part: so one config trains the same model on any
/// number of ranks, as nanoGPT's division of its gradient accumulation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Share {
    /// Whole micro-batches `rank, rank + world, …`: when `world` divides `grad_accum`.
    MicroBatches { rank: usize, world: usize },
    /// Rows `[rank·B/world, (rank+1)·B/world)` of every micro-batch: when `world`
    /// divides `batch_size` (B) but not `grad_accum`.
    Rows { rank: usize, world: usize },
}

impl Share {
    /// All of it: a run of one process.
    pub(crate) const WHOLE: Share = Share::MicroBatches { rank: 0, world: 1 };

    /// Rank `rank`'s part of `world`; the error names the keys when `world` divides
    /// neither.
    pub(crate) fn new(batch_size: i64, grad_accum: i64, rank: usize, world: usize) -> Result<Self, String> {
        let w = world as i64;
        if grad_accum % w == 0 {
            Ok(Self::MicroBatches { rank, world })
        } else if batch_size % w == 0 {
            Ok(Self::Rows { rank, world })
        } else {
            Err(format!(
                "{world} ranks cannot split the global batch: train.grad_accum = {grad_accum} or \
                 train.batch_size = {batch_size} must be a multiple of {world}"
            ))
        }
    }

    /// This rank's part of micro-batch `i` (`(B, T)` inputs and targets), if any.
    pub(crate) fn take(self, i: i64, x: Tensor, y: Tensor) -> Option<(Tensor, Tensor)> {
        match self {
            Self::MicroBatches { rank, world } => (i as usize % world == rank).then_some((x, y)),
            Self::Rows { rank, world } => {
                let rows = x.size()[0] / world as i64;
                let start = rank as i64 * rows;
                Some((x.narrow(0, start, rows), y.narrow(0, start, rows)))
            }
        }
    }

    /// What the mean loss of one part is divided by, so that the sum over all parts of
    /// all ranks is the mean loss of the global batch.
    pub(crate) fn loss_divisor(self, grad_accum: i64) -> f64 {
        match self {
            Self::MicroBatches { .. } => grad_accum as f64,
            Self::Rows { world, .. } => (grad_accum * world as i64) as f64,
        }
    }

    /// Whether this rank computes evaluation batch `i` (they are dealt in turn).
    pub(crate) fn owns_batch(self, i: i64) -> bool {
        let (Self::MicroBatches { rank, world } | Self::Rows { rank, world }) = self;
        i as usize % world == rank
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn the_ranks_parts_make_up_the_global_batch() {
        assert_eq!(Share::new(12, 4, 1, 2), Ok(Share::MicroBatches { rank: 1, world: 2 }));
        assert_eq!(Share::new(12, 1, 1, 2), Ok(Share::Rows { rank: 1, world: 2 }));
        let err = Share::new(5, 3, 0, 2).unwrap_err();
        assert_eq!(
            err,
            "2 ranks cannot split the global batch: train.grad_accum = 3 or train.batch_size = 5 must be a multiple of 2"
        );
        // Rows: the ranks' slices, in order, are the micro-batch.
        let x = Tensor::arange(12, (Kind::Int64, Device::Cpu)).view([6, 2]);
        let parts: Vec<Tensor> =
            (0..3).map(|r| Share::Rows { rank: r, world: 3 }.take(0, x.copy(), x.copy()).unwrap().0).collect();
        assert!(Tensor::cat(&parts, 0).equal(&x));
        // Micro-batches: each is some rank's, exactly once.
        for i in 0..4 {
            let owners =
                (0..2).filter(|&r| Share::MicroBatches { rank: r, world: 2 }.take(i, x.copy(), x.copy()).is_some());
            assert_eq!(owners.count(), 1);
        }
        assert_eq!(Share::Rows { rank: 0, world: 2 }.loss_divisor(3), 6.0);
        assert_eq!(Share::WHOLE.loss_divisor(3), 3.0);
        assert!(Share::WHOLE.owns_batch(7));
        assert!(!Share::Rows { rank: 1, world: 2 }.owns_batch(4));
    }
}
