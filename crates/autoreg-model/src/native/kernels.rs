//! The native decoder's inner loops over f32 slices: the single-row matrix product, the
//! exponential of the softmax and the GELU.
//!
//! Written here because nothing at hand does them fast at these sizes. The `gemm` crate's
//! single-row paths end every output with a horizontal sum (row-major) or load and store
//! the whole output once per input (column-major); `libm`'s `expf` and `erff` are scalar
//! calls of 5-15 ns, and a step takes about 8,000 of them. Each loop here is plain Rust
//! that the compiler vectorises; it is built once per instruction set (AVX-512, AVX2 with
//! FMA, the baseline) and the best one the CPU has is picked at run time.

/// Defines `fn $name(args)` that calls `$kernel::<B, FMA>(args)` compiled for the best
/// instruction set the CPU has: `B` is how many f32 lanes a loop should keep in flight,
/// `FMA` whether to fuse multiply-adds.
macro_rules! multiversion {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) => $kernel:ident) => {
        $(#[$doc])*
        pub(crate) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,fma")]
                fn avx512($($arg: $ty),*) {
                    $kernel::<64, true>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    $kernel::<32, true>($($arg),*)
                }
                if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features the function is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $kernel::<16, false>($($arg),*)
        }
    };
}

multiversion! {
    /// `y (n,) = x (k,) · A`, or `y +=` that when `accumulate`; row `i` of `A` (k rows of
    /// `y.len()` values) starts at `a[i * stride]`.
    fn gemv(x: &[f32], a: &[f32], stride: usize, y: &mut [f32], accumulate: bool) => gemv_blocked
}

multiversion! {
    /// The softmax of `v` in place. The exponential is Cephes' `expf`: `e^v = 2^n · e^r`
    /// with `|r| ≤ ln 2 / 2` and a degree-6 polynomial for `e^r`, about 2e-7 relative
    /// error; inputs more than 87.3 below the largest give about 1e-38 instead of less.
    fn softmax_in_place(v: &mut [f32]) => softmax_slice
}

multiversion! {
    /// The exact GELU, `v ↦ v/2 · (1 + erf(v/√2))`, in place, as libtorch's
    /// `gelu("none")`. erf by Abramowitz and Stegun 7.1.26 (as PyTorch's vectorised erf):
    /// `erf x = 1 - t(a1 + t(a2 + ...)) e^(-x²)`, `t = 1/(1 + p x)`, error at most 1.5e-7.
    fn gelu_in_place(v: &mut [f32]) => gelu_slice
}

multiversion! {
    /// GELU's tanh approximation, `v ↦ v/2 · (1 + tanh(√(2/π)(v + 0.044715 v³)))`, in
    /// place, as libtorch's `gelu("tanh")`; `1 + tanh u = 2 - 2/(e^(2u) + 1)`.
    fn gelu_tanh_in_place(v: &mut [f32]) => gelu_tanh_slice
}

/// Blocks of `B` outputs, then of 16, then one at a time.
#[inline(always)]
fn gemv_blocked<const B: usize, const FMA: bool>(x: &[f32], a: &[f32], stride: usize, y: &mut [f32], accumulate: bool) {
    let (k, n) = (x.len(), y.len());
    assert!(k == 0 || (k - 1) * stride + n <= a.len(), "matrix-vector shapes");
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

/// One block of `W` outputs, `y = x · A[:, ..W]`, A's rows `stride` apart, held in
/// accumulator arrays (registers, once vectorised) while the loop runs down the rows. A
/// narrow block (W ≤ 32: a head's values, tall and thin) sums four rows at a time into
/// four arrays, so that enough multiply-adds are in flight.
#[inline(always)]
fn block<const W: usize, const FMA: bool>(x: &[f32], a: &[f32], stride: usize, y: &mut [f32], accumulate: bool) {
    let chains = if W <= 32 { 4 } else { 1 };
    let mut acc = [[0.0f32; W]; 4];
    if accumulate {
        acc[0].copy_from_slice(&y[..W]);
    }
    for (i, &xi) in x.iter().enumerate() {
        let row = &a[i * stride..][..W];
        for (acc, &w) in acc[i % chains].iter_mut().zip(row) {
            *acc = if FMA { xi.mul_add(w, *acc) } else { *acc + xi * w };
        }
    }
    for (j, y) in y[..W].iter_mut().enumerate() {
        *y = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
    }
}

#[inline(always)]
fn softmax_slice<const B: usize, const FMA: bool>(v: &mut [f32]) {
    // Max and sum in 16 lanes, so that they vectorise.
    let mut lanes = [f32::NEG_INFINITY; 16];
    let chunks = v.chunks_exact(16);
    let tail = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).for_each(|(m, &x)| *m = m.max(x));
    }
    let max = lanes.iter().fold(tail, |m, &x| m.max(x));
    let mut sums = [0.0f32; 16];
    let mut chunks = v.chunks_exact_mut(16);
    for chunk in &mut chunks {
        for (s, x) in sums.iter_mut().zip(chunk) {
            *x = exp::<FMA>(*x - max);
            *s += *x;
        }
    }
    let mut total: f32 = 0.0;
    for x in chunks.into_remainder() {
        *x = exp::<FMA>(*x - max);
        total += *x;
    }
    let inv = 1.0 / (total + sums.iter().sum::<f32>());
    v.iter_mut().for_each(|x| *x *= inv);
}

#[inline(always)]
fn exp<const FMA: bool>(v: f32) -> f32 {
    let madd = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    let v = v.clamp(-87.3, 88.7);
    // n = round(v / ln 2) by adding 1.5 · 2^23, whose float then holds n in its low bits:
    // plain float and integer adds, which vectorise (a float-to-int cast does not).
    const MAGIC: f32 = 12_582_912.0;
    let t = v * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let n_bits = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let r = madd(n, -0.693_359_4, v); // ln 2 in two parts, so that r stays exact
    let r = madd(n, 2.121_944_4e-4, r);
    let mut p = 1.987_569_2e-4;
    for c in [1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
        p = madd(p, r, c);
    }
    let er = madd(p, r * r, r + 1.0);
    er * f32::from_bits((n_bits.wrapping_add(127) << 23) as u32)
}

#[inline(always)]
fn gelu_slice<const B: usize, const FMA: bool>(v: &mut [f32]) {
    v.iter_mut().for_each(|v| *v = gelu::<FMA>(*v));
}

#[inline(always)]
fn gelu<const FMA: bool>(v: f32) -> f32 {
    let madd = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    let x = (v * std::f32::consts::FRAC_1_SQRT_2).abs();
    let t = 1.0 / madd(0.327_591_1, x, 1.0);
    let mut p = 1.061_405_4;
    for c in [-1.453_152, 1.421_413_8, -0.284_496_74, 0.254_829_6] {
        p = madd(p, t, c);
    }
    let erf = 1.0 - p * t * exp::<FMA>(-x * x);
    0.5 * v * (1.0 + erf.copysign(v))
}

fn gelu_tanh_slice<const B: usize, const FMA: bool>(v: &mut [f32]) {
    v.iter_mut().for_each(|v| *v = gelu_tanh::<FMA>(*v));
}

#[inline(always)]
fn gelu_tanh<const FMA: bool>(v: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * v * (1.0 + 0.044_715 * v * v);
    v * (1.0 - 1.0 / (exp::<FMA>(2.0 * u) + 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemv_matches_a_plain_product_at_every_width_and_stride() {
        for (k, n, stride) in [(1, 1, 1), (3, 5, 7), (128, 384, 384), (32, 130, 256), (7, 200, 200), (64, 13, 13)] {
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

    #[test]
    fn exp_softmax_and_gelu_match_libm_closely() {
        let inputs: Vec<f32> = (-4000..=4000).map(|i| i as f32 / 200.0).collect(); // -20..20
        for (&v, got) in inputs.iter().zip(inputs.iter().map(|&v| exp::<false>(v))) {
            let want = v.exp();
            assert!((got - want).abs() <= 4e-7 * want, "exp({v}) = {got}, libm {want}");
        }
        assert!(exp::<true>(-100.0) < 1e-37 && exp::<true>(-87.0) > 0.0 && exp::<true>(0.0) == 1.0);
        for n in [1, 7, 16, 33, 300] {
            let logits: Vec<f32> = (0..n).map(|i| ((i * 37 % 23) as f32 - 11.0) / 2.0).collect();
            let mut p = logits.clone();
            softmax_in_place(&mut p);
            let max = logits.iter().fold(f32::MIN, |m, &x| m.max(x));
            let total: f64 = logits.iter().map(|&x| f64::from(x - max).exp()).sum();
            for (&x, &got) in logits.iter().zip(&p) {
                let want = f64::from(x - max).exp() / total;
                assert!((f64::from(got) - want).abs() <= 1e-6 * want + 1e-9, "n {n}: {got} vs {want}");
            }
        }
        let mut g = inputs.clone();
        gelu_in_place(&mut g);
        for (&v, &got) in inputs.iter().zip(&g) {
            let want = 0.5 * v * (1.0 + libm::erff(v * std::f32::consts::FRAC_1_SQRT_2));
            assert!((got - want).abs() <= 2e-6 * (1.0 + v.abs()), "gelu({v}) = {got}, libm {want}");
        }
        let mut g = inputs.clone();
        gelu_tanh_in_place(&mut g);
        for (&v, &got) in inputs.iter().zip(&g) {
            let u = f64::from(v) * (2.0 / std::f64::consts::PI).sqrt() * (1.0 + 0.044_715 * f64::from(v).powi(2));
            let want = 0.5 * f64::from(v) * (1.0 + u.tanh());
            assert!(
                (f64::from(got) - want).abs() <= 2e-6 * (1.0 + f64::from(v).abs()),
                "gelu_tanh({v}) = {got}, {want}"
            );
        }
    }
}
