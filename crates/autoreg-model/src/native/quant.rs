//! Int8 weights for the native decoder: symmetric quantization in groups of [`GROUP`]
//! inputs with an f32 scale per group and output (llama.cpp's Q8_0, llama2.c's
//! `runq.c`), and products whose inputs are quantized the same way, so that the inner
//! loop multiplies bytes and sums them in 32-bit integers.
//!
//! A step of a small model is bound by the bytes of weights it reads (about 3 MB per
//! token at the shakespeare-char size in f32); int8 reads a quarter of them, and the
//! whole model then fits in a core's L2 cache.
//!
//! The layout serves the instructions that sum four byte products per 32-bit lane
//! (AVX-512 VNNI `vpdpbusd`; AVX2 `vpmaddubsw` then `vpmaddwd`): outputs in blocks of
//! [`BLOCK`], and within a block and group, for each four consecutive inputs (a "quad"),
//! the four bytes of every output side by side. One broadcast quad of the input then
//! meets a whole block of outputs, and no output ends with a horizontal sum. The
//! kernels are written with `std::arch` because no crate offers int8 products over this
//! layout, and the compiler does not find these instructions in plain loops.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Inputs per quantization group.
pub(crate) const GROUP: usize = 32;
/// Outputs per block: one 512-bit register of 32-bit sums.
pub(crate) const BLOCK: usize = 16;
/// Quads of four inputs per group.
const QUADS: usize = GROUP / 4;
/// Bytes of quants per block and group.
const CELL: usize = QUADS * BLOCK * 4;

/// A matrix (d_out, d_in) in int8, d_in padded with zeros to whole groups and d_out to
/// whole blocks.
pub(crate) struct Q8Matrix {
    /// (blocks, groups, QUADS, BLOCK, 4)
    quants: Vec<i8>,
    /// (blocks, groups, BLOCK): each output's scale in each group.
    scales: Vec<f32>,
    /// (blocks, groups, BLOCK): 128 times each output's sum of quants in each group. The
    /// VNNI path multiplies unsigned bytes, the input plus 128, and takes this back off.
    offsets: Vec<i32>,
    groups: usize,
    d_out: usize,
}

/// One input row quantized in groups of [`GROUP`]: `quants` (groups · GROUP) and a
/// scale per group.
#[derive(Default)]
pub(crate) struct Q8Row {
    quants: Vec<i8>,
    scales: Vec<f32>,
}

impl Q8Row {
    /// Quantizes `x` (d_in,), padded with zeros to whole groups.
    pub(crate) fn quantize(&mut self, x: &[f32]) {
        let groups = x.len().div_ceil(GROUP);
        self.quants.resize(groups * GROUP, 0);
        self.scales.resize(groups, 0.0);
        let mut padded = [0.0f32; GROUP];
        for ((chunk, quants), scale) in x.chunks(GROUP).zip(self.quants.chunks_exact_mut(GROUP)).zip(&mut self.scales) {
            padded[..chunk.len()].copy_from_slice(chunk);
            padded[chunk.len()..].fill(0.0);
            let quants: &mut [i8; GROUP] = quants.try_into().expect("a group is GROUP quants");
            *scale = quantize_group(&padded, quants);
        }
    }
}

/// Quantizes a group symmetrically (round to nearest, ties to even, ±127) into `out`;
/// returns the scale, `max |v| / 127` (0 for a group of zeros, whose quants are all 0).
/// Fixed sizes and plain float and integer operations only, so that the loops
/// vectorise (`round` is a call per value, and a saturating cast is scalar): adding
/// 1.5 · 2^23 rounds, and leaves the integer in the float's low bits.
#[inline]
fn quantize_group(values: &[f32; GROUP], out: &mut [i8; GROUP]) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    let mut lanes = [0.0f32; 8];
    for chunk in values.chunks_exact(8) {
        lanes.iter_mut().zip(chunk).for_each(|(m, v)| *m = m.max(v.abs()));
    }
    let max = lanes.iter().fold(0.0f32, |m, &v| m.max(v));
    let scale = max / 127.0;
    let inv = if scale > 0.0 { 127.0 / max } else { 0.0 };
    for (q, v) in out.iter_mut().zip(values) {
        let t = (v * inv).clamp(-127.0, 127.0) + MAGIC;
        *q = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32) as i8;
    }
    scale
}

impl Q8Matrix {
    /// Quantizes `w` (d_out, d_in), row-major.
    pub(crate) fn new(w: &[f32], d_out: usize, d_in: usize) -> Self {
        assert_eq!(w.len(), d_out * d_in, "int8 matrix shape");
        let groups = d_in.div_ceil(GROUP);
        let blocks = d_out.div_ceil(BLOCK);
        let mut quants = vec![0i8; blocks * groups * CELL];
        let mut scales = vec![0.0f32; blocks * groups * BLOCK];
        let mut offsets = vec![0i32; blocks * groups * BLOCK];
        let mut q = [0i8; GROUP];
        let mut padded = [0.0f32; GROUP];
        for (o, row) in w.chunks_exact(d_in).enumerate() {
            let (b, lane) = (o / BLOCK, o % BLOCK);
            for (g, chunk) in row.chunks(GROUP).enumerate() {
                padded[..chunk.len()].copy_from_slice(chunk);
                padded[chunk.len()..].fill(0.0);
                let cell = b * groups + g;
                scales[cell * BLOCK + lane] = quantize_group(&padded, &mut q);
                offsets[cell * BLOCK + lane] = 128 * q.iter().map(|&v| i32::from(v)).sum::<i32>();
                for (i, &v) in q.iter().enumerate() {
                    quants[cell * CELL + (i / 4) * BLOCK * 4 + lane * 4 + i % 4] = v;
                }
            }
        }
        Self { quants, scales, offsets, groups, d_out }
    }

    /// Inputs per row, padded to whole groups.
    pub(crate) fn padded_in(&self) -> usize {
        self.groups * GROUP
    }

    /// `y` = `x` · Wᵀ for the outputs `from..from + y.len()` (`from` a multiple of
    /// [`BLOCK`]), or `y +=` that when `accumulate`.
    pub(crate) fn gemv(&self, x: &Q8Row, from: usize, y: &mut [f32], accumulate: bool) {
        assert!(x.quants.len() == self.padded_in() && from.is_multiple_of(BLOCK), "int8 product shapes");
        assert!(from + y.len() <= self.d_out, "int8 product outputs");
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
            {
                // SAFETY: the CPU has the features; the shapes are checked above.
                return unsafe { self.gemv_vnni(x, from, y, accumulate) };
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                return unsafe { self.gemv_avx2(x, from, y, accumulate) };
            }
        }
        self.gemv_plain(x, from, y, accumulate);
    }

    /// `y` (rows, d_out) = `xs` (rows) · Wᵀ, or `y +=` that when `accumulate`. With
    /// VNNI, tiles of up to 4 rows by 2 blocks read each weight once for their rows.
    pub(crate) fn gemm(&self, xs: &[Q8Row], y: &mut [f32], accumulate: bool) {
        assert_eq!(y.len(), xs.len() * self.d_out, "int8 product shapes");
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
                && xs.iter().all(|x| x.quants.len() == self.padded_in())
            {
                for (xs, y) in xs.chunks(4).zip(y.chunks_mut(4 * self.d_out)) {
                    // SAFETY: the CPU has the features; the rows are checked above.
                    unsafe {
                        match xs {
                            [a, b, c, d] => self.vnni_rows([a, b, c, d], y, accumulate),
                            [a, b, c] => self.vnni_rows([a, b, c], y, accumulate),
                            [a, b] => self.vnni_rows([a, b], y, accumulate),
                            _ => self.gemv_vnni(&xs[0], 0, y, accumulate),
                        }
                    }
                }
                return;
            }
        }
        for (x, y) in xs.iter().zip(y.chunks_mut(self.d_out)) {
            self.gemv(x, 0, y, accumulate);
        }
    }

    /// The cells of the `N` blocks from block `b`, group `g`. A loop, not a closure: a
    /// closure would not be inlined into the kernels, whose instruction sets it lacks.
    #[inline(always)]
    fn cells<const N: usize>(&self, b: usize, g: usize) -> [(&[i8], &[f32], &[i32]); N] {
        let mut cells = [self.cell(b, g); N];
        for (k, cell) in cells.iter_mut().enumerate().skip(1) {
            *cell = self.cell(b + k, g);
        }
        cells
    }

    /// The cells of block `b`, group `g`: its quants, scales and offsets.
    #[inline(always)]
    fn cell(&self, b: usize, g: usize) -> (&[i8], &[f32], &[i32]) {
        let cell = b * self.groups + g;
        (
            &self.quants[cell * CELL..][..CELL],
            &self.scales[cell * BLOCK..][..BLOCK],
            &self.offsets[cell * BLOCK..][..BLOCK],
        )
    }

    /// The portable path: the same sums in plain loops.
    fn gemv_plain(&self, x: &Q8Row, from: usize, y: &mut [f32], accumulate: bool) {
        for (i, out) in y.chunks_mut(BLOCK).enumerate() {
            let b = from / BLOCK + i;
            let mut acc = [0.0f32; BLOCK];
            for g in 0..self.groups {
                let (quants, scales, _) = self.cell(b, g);
                let xq = &x.quants[g * GROUP..][..GROUP];
                let mut sums = [0i32; BLOCK];
                for (quad, w) in quants.chunks_exact(BLOCK * 4).enumerate() {
                    for (sum, w) in sums.iter_mut().zip(w.chunks_exact(4)) {
                        *sum += (0..4).map(|j| i32::from(xq[quad * 4 + j]) * i32::from(w[j])).sum::<i32>();
                    }
                }
                for ((a, s), w) in acc.iter_mut().zip(sums).zip(scales) {
                    *a += s as f32 * w * x.scales[g];
                }
            }
            store(out, &acc, accumulate);
        }
    }

    /// AVX-512 VNNI: `vpdpbusd` sums four products of unsigned and signed bytes per
    /// lane, so the input goes in as `x + 128` (a flip of the sign bit) and the
    /// offsets take `128 · Σ w` back off. Four blocks at a time, for four independent
    /// chains of sums.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    unsafe fn gemv_vnni(&self, x: &Q8Row, from: usize, y: &mut [f32], accumulate: bool) {
        let first = from / BLOCK;
        for (i, y) in y.chunks_mut(4 * BLOCK).enumerate() {
            let b = first + 4 * i;
            // SAFETY: the features are those of this function; `y` is at most N blocks.
            unsafe {
                if y.len() > 3 * BLOCK {
                    self.vnni_blocks::<4>(x, b, y, accumulate);
                } else {
                    y.chunks_mut(BLOCK).enumerate().for_each(|(k, y)| self.vnni_blocks::<1>(x, b + k, y, accumulate));
                }
            }
        }
    }

    /// [`Q8Matrix::gemv_vnni`] over the `N` blocks from block `b`, into `y` (their
    /// outputs, the last block's possibly cut short).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    unsafe fn vnni_blocks<const N: usize>(&self, x: &Q8Row, b: usize, y: &mut [f32], accumulate: bool) {
        let flip = _mm512_set1_epi32(0x8080_8080u32 as i32);
        let mut acc = [_mm512_setzero_ps(); N];
        for g in 0..self.groups {
            let mut sums = [_mm512_setzero_si512(); N];
            let xq = x.quants[g * GROUP..][..GROUP].as_ptr();
            let cells = self.cells::<N>(b, g);
            for quad in 0..QUADS {
                // SAFETY: the quad lies inside the group's GROUP bytes.
                let xb = unsafe { xq.add(quad * 4).cast::<i32>().read_unaligned() };
                let xb = _mm512_xor_si512(_mm512_set1_epi32(xb), flip);
                for (sum, (quants, ..)) in sums.iter_mut().zip(&cells) {
                    // SAFETY: a quad of a cell is BLOCK · 4 = 64 bytes inside it.
                    let w = unsafe { _mm512_loadu_si512(quants.as_ptr().add(quad * 64).cast()) };
                    *sum = _mm512_dpbusd_epi32(*sum, xb, w);
                }
            }
            let xs = _mm512_set1_ps(x.scales[g]);
            for ((sum, acc), (_, scales, offsets)) in sums.iter().zip(acc.iter_mut()).zip(&cells) {
                // SAFETY: scales and offsets are BLOCK = 16 values each.
                let (s, o) = unsafe { (_mm512_loadu_ps(scales.as_ptr()), _mm512_loadu_si512(offsets.as_ptr().cast())) };
                let exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(*sum, o));
                *acc = _mm512_fmadd_ps(exact, _mm512_mul_ps(s, xs), *acc);
            }
        }
        for (acc, y) in acc.iter().zip(y.chunks_mut(BLOCK)) {
            let mut lanes = [0.0f32; BLOCK];
            // SAFETY: `lanes` holds 16 f32.
            unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), *acc) };
            store(y, &lanes, accumulate);
        }
    }

    /// [`Q8Matrix::gemm`] of `R` rows, every block: `y` is their outputs, (R, d_out).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    unsafe fn vnni_rows<const R: usize>(&self, xs: [&Q8Row; R], y: &mut [f32], accumulate: bool) {
        let blocks = self.d_out.div_ceil(BLOCK);
        for b in (0..blocks).step_by(2) {
            // SAFETY: the features are this function's.
            unsafe {
                if b + 1 < blocks {
                    self.vnni_tile::<R, 2>(xs, b, y, accumulate);
                } else {
                    self.vnni_tile::<R, 1>(xs, b, y, accumulate);
                }
            }
        }
    }

    /// [`Q8Matrix::gemm`] of `R` rows over the `N` blocks from block `b`: `y` is the
    /// rows' outputs, (R, d_out).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    unsafe fn vnni_tile<const R: usize, const N: usize>(
        &self,
        xs: [&Q8Row; R],
        b: usize,
        y: &mut [f32],
        accumulate: bool,
    ) {
        let flip = _mm512_set1_epi32(0x8080_8080u32 as i32);
        let mut acc = [[_mm512_setzero_ps(); N]; R];
        for g in 0..self.groups {
            let mut sums = [[_mm512_setzero_si512(); N]; R];
            let cells = self.cells::<N>(b, g);
            let mut xq = [&xs[0].quants[..0]; R];
            for (xq, x) in xq.iter_mut().zip(xs) {
                *xq = &x.quants[g * GROUP..][..GROUP];
            }
            for quad in 0..QUADS {
                let mut w = [_mm512_setzero_si512(); N];
                for (w, (quants, ..)) in w.iter_mut().zip(&cells) {
                    // SAFETY: a quad of a cell is BLOCK · 4 = 64 bytes inside it.
                    *w = unsafe { _mm512_loadu_si512(quants.as_ptr().add(quad * 64).cast()) };
                }
                for (sums, xq) in sums.iter_mut().zip(xq) {
                    // SAFETY: the quad lies inside the group's GROUP bytes.
                    let xb = unsafe { xq.as_ptr().add(quad * 4).cast::<i32>().read_unaligned() };
                    let xb = _mm512_xor_si512(_mm512_set1_epi32(xb), flip);
                    for (sum, w) in sums.iter_mut().zip(w) {
                        *sum = _mm512_dpbusd_epi32(*sum, xb, w);
                    }
                }
            }
            for ((sums, acc), x) in sums.iter().zip(acc.iter_mut()).zip(xs) {
                let xs = _mm512_set1_ps(x.scales[g]);
                for ((sum, acc), (_, scales, offsets)) in sums.iter().zip(acc.iter_mut()).zip(&cells) {
                    // SAFETY: scales and offsets are BLOCK = 16 values each.
                    let (s, o) =
                        unsafe { (_mm512_loadu_ps(scales.as_ptr()), _mm512_loadu_si512(offsets.as_ptr().cast())) };
                    let exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(*sum, o));
                    *acc = _mm512_fmadd_ps(exact, _mm512_mul_ps(s, xs), *acc);
                }
            }
        }
        for (acc, y) in acc.iter().zip(y.chunks_mut(self.d_out)) {
            for (k, acc) in acc.iter().enumerate() {
                let mut lanes = [0.0f32; BLOCK];
                // SAFETY: `lanes` holds 16 f32.
                unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), *acc) };
                let at = (b + k) * BLOCK;
                let end = (at + BLOCK).min(self.d_out);
                store(&mut y[at..end], &lanes, accumulate);
            }
        }
    }

    /// AVX2: `vpmaddubsw` multiplies unsigned by signed bytes and adds pairs into 16
    /// bits (at most 2 · 127 · 127, no saturation), so the input goes in as `|x|` and
    /// its sign moves onto the weights (`vpsignb`); `vpmaddwd` by ones adds the pairs
    /// into 32 bits. A block is two registers; two blocks at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gemv_avx2(&self, x: &Q8Row, from: usize, y: &mut [f32], accumulate: bool) {
        let first = from / BLOCK;
        for (i, y) in y.chunks_mut(2 * BLOCK).enumerate() {
            let b = first + 2 * i;
            // SAFETY: the features are those of this function; `y` is at most N blocks.
            unsafe {
                if y.len() > BLOCK {
                    self.avx2_blocks::<2>(x, b, y, accumulate);
                } else {
                    self.avx2_blocks::<1>(x, b, y, accumulate);
                }
            }
        }
    }

    /// [`Q8Matrix::gemv_avx2`] over the `N` blocks from block `b`, into `y`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2_blocks<const N: usize>(&self, x: &Q8Row, b: usize, y: &mut [f32], accumulate: bool) {
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_ps(); 2]; N];
        for g in 0..self.groups {
            let mut sums = [[_mm256_setzero_si256(); 2]; N];
            let xq = x.quants[g * GROUP..][..GROUP].as_ptr();
            let cells = self.cells::<N>(b, g);
            for quad in 0..QUADS {
                // SAFETY: the quad lies inside the group's GROUP bytes.
                let xb = _mm256_set1_epi32(unsafe { xq.add(quad * 4).cast::<i32>().read_unaligned() });
                let ax = _mm256_abs_epi8(xb);
                for (sum, (quants, ..)) in sums.iter_mut().zip(&cells) {
                    for (half, sum) in sum.iter_mut().enumerate() {
                        // SAFETY: 32 of the quad's 64 bytes, inside the cell.
                        let w = unsafe { _mm256_loadu_si256(quants.as_ptr().add(quad * 64 + half * 32).cast()) };
                        let pairs = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, xb));
                        *sum = _mm256_add_epi32(*sum, _mm256_madd_epi16(pairs, ones));
                    }
                }
            }
            let xs = _mm256_set1_ps(x.scales[g]);
            for ((sum, acc), (_, scales, _)) in sums.iter().zip(acc.iter_mut()).zip(&cells) {
                for half in 0..2 {
                    // SAFETY: 8 of the 16 scales.
                    let s = unsafe { _mm256_loadu_ps(scales.as_ptr().add(half * 8)) };
                    acc[half] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[half]), _mm256_mul_ps(s, xs), acc[half]);
                }
            }
        }
        for (acc, y) in acc.iter().zip(y.chunks_mut(BLOCK)) {
            let mut lanes = [0.0f32; BLOCK];
            // SAFETY: `lanes` holds 16 f32, two halves of 8.
            unsafe {
                _mm256_storeu_ps(lanes.as_mut_ptr(), acc[0]);
                _mm256_storeu_ps(lanes.as_mut_ptr().add(8), acc[1]);
            }
            store(y, &lanes, accumulate);
        }
    }
}

/// Writes a block's sums into its outputs (the first `out.len()`), or adds them.
#[inline(always)]
fn store(out: &mut [f32], sums: &[f32; BLOCK], accumulate: bool) {
    for (o, &s) in out.iter_mut().zip(sums) {
        *o = if accumulate { *o + s } else { s };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix and a row with values of every magnitude, some groups all zero.
    fn case(d_out: usize, d_in: usize) -> (Vec<f32>, Vec<f32>) {
        let w = (0..d_out * d_in).map(|i| (((i * 37) % 101) as f32 - 50.0) / 40.0 * (1 + i % 3) as f32).collect();
        let x =
            (0..d_in).map(|i| if (40..72).contains(&i) { 0.0 } else { ((i * 13 % 29) as f32 - 14.0) / 7.0 }).collect();
        (w, x)
    }

    #[test]
    fn every_path_computes_the_quantized_product_and_stays_near_the_f32_one() {
        for (d_out, d_in) in [(1, 1), (16, 32), (65, 128), (130, 100), (512, 128), (7, 300)] {
            let (w, x) = case(d_out, d_in);
            let m = Q8Matrix::new(&w, d_out, d_in);
            let mut row = Q8Row::default();
            row.quantize(&x);
            let mut plain = vec![0.25f32; d_out];
            m.gemv_plain(&row, 0, &mut plain, true);
            let mut fast = vec![0.25f32; d_out];
            m.gemv(&row, 0, &mut fast, true);
            // Each path this CPU has, whichever `gemv` picks.
            let mut paths = vec![fast.clone()];
            #[cfg(target_arch = "x86_64")]
            {
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    let mut y = vec![0.25f32; d_out];
                    // SAFETY: the CPU has the features.
                    unsafe { m.gemv_avx2(&row, 0, &mut y, true) };
                    paths.push(y);
                }
                if is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vnni")
                {
                    let mut y = vec![0.25f32; d_out];
                    // SAFETY: as above.
                    unsafe { m.gemv_vnni(&row, 0, &mut y, true) };
                    paths.push(y);
                }
            }
            let norm: f32 = x.iter().map(|v| v * v).sum::<f32>().sqrt();
            for (o, &p) in plain.iter().enumerate() {
                // The integer sums are exact on every path; only the float order differs.
                for f in paths.iter().map(|y| y[o]) {
                    assert!((p - f).abs() <= 1e-5 * (1.0 + p.abs()), "{d_out}x{d_in} output {o}: {p} vs {f}");
                }
                let exact = 0.25 + (0..d_in).map(|i| w[o * d_in + i] * x[i]).sum::<f32>();
                let wnorm: f32 = w[o * d_in..][..d_in].iter().map(|v| v * v).sum::<f32>().sqrt();
                // Rounding error: at most half a step of each of w and x per product.
                assert!((p - exact).abs() <= 0.02 * norm * wnorm + 1e-6, "{d_out}x{d_in} output {o}: {p} vs {exact}");
            }
            // A later range of outputs, without accumulating.
            if d_out > 32 {
                let mut part = vec![0.0f32; d_out - 16];
                m.gemv(&row, 16, &mut part, false);
                assert!(part.iter().zip(&fast[16..]).all(|(a, b)| (a - (b - 0.25)).abs() <= 1e-4 * (1.0 + a.abs())));
            }
        }
    }

    #[test]
    fn several_rows_at_once_match_one_at_a_time() {
        for (d_out, d_in, rows) in [(65, 128, 9), (512, 128, 4), (16, 32, 5), (130, 100, 3)] {
            let (w, _) = case(d_out, d_in);
            let m = Q8Matrix::new(&w, d_out, d_in);
            let xs: Vec<Q8Row> = (0..rows)
                .map(|r| {
                    let mut q = Q8Row::default();
                    q.quantize(&(0..d_in).map(|i| (((i + 7 * r) * 13 % 29) as f32 - 14.0) / 7.0).collect::<Vec<_>>());
                    q
                })
                .collect();
            let mut together = vec![0.5f32; rows * d_out];
            m.gemm(&xs, &mut together, true);
            for (r, x) in xs.iter().enumerate() {
                let mut alone = vec![0.5f32; d_out];
                m.gemv_plain(x, 0, &mut alone, true);
                for (o, (a, b)) in alone.iter().zip(&together[r * d_out..][..d_out]).enumerate() {
                    assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{d_out}x{d_in} row {r} output {o}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn quantization_is_symmetric_and_exact_on_the_grid() {
        let mut row = Q8Row::default();
        let x: Vec<f32> = (-127..=127).map(|v| v as f32 * 0.5).collect();
        row.quantize(&x);
        assert_eq!(row.scales.len(), x.len().div_ceil(GROUP));
        for (g, chunk) in x.chunks(GROUP).enumerate() {
            let s = row.scales[g];
            for (i, v) in chunk.iter().enumerate() {
                assert!((f32::from(row.quants[g * GROUP + i]) * s - v).abs() <= s / 2.0 + 1e-6);
            }
        }
        row.quantize(&[0.0; 40]);
        assert!(row.quants.iter().all(|&q| q == 0) && row.scales == [0.0, 0.0]);
    }
}
