//! The one matrix-vector product of the native decoder, `y = x A` for a single row `x`.
//!
//! Written here because the `gemm` crate's single-row paths are slow at these sizes: its
//! row-major kernel ends every output with a horizontal sum, and its column-major one
//! loads and stores the whole output once per input. This kernel keeps a block of
//! outputs in registers while it runs down the inputs, which is what a row of a small
//! model's step needs. It is plain Rust that the compiler vectorises, built once per
//! instruction set (AVX-512, AVX2 with FMA, the baseline) and picked at run time.

/// `y (n,) = x (k,) · A`, or `y +=` that when `accumulate`; row `i` of `A` (k rows of
/// `y.len()` values) starts at `a[i * stride]`.
pub(crate) fn gemv(x: &[f32], a: &[f32], stride: usize, y: &mut [f32], accumulate: bool) {
    let (k, n) = (x.len(), y.len());
    assert!(k == 0 || (k - 1) * stride + n <= a.len(), "matrix-vector shapes");
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { gemv_avx512(x, a, stride, y, accumulate) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { gemv_avx2(x, a, stride, y, accumulate) };
        }
    }
    gemv_blocked::<16, false>(x, a, stride, y, accumulate);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn gemv_avx512(x: &[f32], a: &[f32], stride: usize, y: &mut [f32], accumulate: bool) {
    gemv_blocked::<64, true>(x, a, stride, y, accumulate); // 4 zmm accumulators
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemv_avx2(x: &[f32], a: &[f32], stride: usize, y: &mut [f32], accumulate: bool) {
    gemv_blocked::<32, true>(x, a, stride, y, accumulate); // 4 ymm accumulators
}

/// The kernel: blocks of `B` outputs held in an accumulator array (registers, once
/// vectorised), each run down all `k` inputs, then blocks of 16 and a remainder; `FMA`
/// fuses the multiply-adds.
#[inline(always)]
fn gemv_blocked<const B: usize, const FMA: bool>(x: &[f32], a: &[f32], stride: usize, y: &mut [f32], accumulate: bool) {
    let n = y.len();
    let full = n - n % B;
    for start in (0..full).step_by(B) {
        block::<B, FMA>(x, &a[start..], stride, &mut y[start..start + B], accumulate);
    }
    let sixteens = full + (n - full) / 16 * 16;
    for start in (full..sixteens).step_by(16) {
        block::<16, FMA>(x, &a[start..], stride, &mut y[start..start + 16], accumulate);
    }
    for (j, y) in y.iter_mut().enumerate().skip(sixteens) {
        let sum: f32 = x.iter().enumerate().map(|(i, &xi)| xi * a[i * stride + j]).sum();
        *y = if accumulate { *y + sum } else { sum };
    }
}

/// One block of `W` outputs: `y (W,) = x · A[:, ..W]`, A's rows `stride` apart.
#[inline(always)]
fn block<const W: usize, const FMA: bool>(x: &[f32], a: &[f32], stride: usize, y: &mut [f32], accumulate: bool) {
    let mut acc = [0.0f32; W];
    if accumulate {
        acc.copy_from_slice(y);
    }
    for (i, &xi) in x.iter().enumerate() {
        let row: &[f32; W] = a[i * stride..][..W].try_into().expect("a block of W");
        for (acc, &w) in acc.iter_mut().zip(row) {
            *acc = if FMA { xi.mul_add(w, *acc) } else { *acc + xi * w };
        }
    }
    y.copy_from_slice(&acc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_plain_product_at_every_width_and_stride() {
        for (k, n, stride) in [(1, 1, 1), (3, 5, 7), (128, 384, 384), (32, 130, 256), (7, 200, 200)] {
            let x: Vec<f32> = (0..k).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
            let a: Vec<f32> = (0..(k - 1) * stride + n).map(|i| ((i * 13 % 17) as f32 - 8.0) / 5.0).collect();
            let mut y = vec![0.5f32; n];
            gemv(&x, &a, stride, &mut y, true);
            for (j, &got) in y.iter().enumerate() {
                let want = 0.5 + (0..k).map(|i| x[i] * a[i * stride + j]).sum::<f32>();
                assert!((got - want).abs() < 1e-4 * (1.0 + want.abs()), "k {k} n {n} output {j}: {got} vs {want}");
            }
            gemv(&x, &a, stride, &mut y, false);
            let want0 = (0..k).map(|i| x[i] * a[i * stride]).sum::<f32>();
            assert!((y[0] - want0).abs() < 1e-4 * (1.0 + want0.abs()));
        }
    }
}
