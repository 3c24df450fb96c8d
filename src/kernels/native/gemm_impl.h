// Generic BLIS-style SGEMM, compiled once per instruction set.
//
// Not a normal header: an isa_*.cc file includes it inside an anonymous namespace
// and a `#pragma GCC target` region, after defining
//   struct Ops  { using V; static constexpr int VL; zero, load, store, bcast, fma, mul;
//                 kTranspose8 and transpose8(src, lds, rows, lanes, dst, ldd): an 8-column
//                 strip of `rows` ≤ 8 rows transposed into `lanes` ≤ 8 zero-padded lanes },
//   constexpr int MR, NV          (register tile: MR rows × NV vectors of VL floats),
//   constexpr idx KC, MC, NC      (cache blocking; MC a multiple of MR).
// Internal linkage keeps each instruction set's copy apart (no ODR merging across
// targets, which could hand AVX-512 code to a CPU without it). No include guard on purpose.
//
// Loops (BLIS): jc over NC columns of C → pc over KC of k (pack op(B) into NR-column
// panels, L3) → ic over MC rows (pack op(A) into MR-row panels, L2) → jr over NR →
// ir over MR → microkernel (B micro-panel stays in L1). The four transpose cases
// differ only in the strides the packing routines read with.

constexpr int NR = NV * Ops::VL;
static_assert(MC % MR == 0, "MC must be a multiple of MR");

// op(A)(i, p) = a[i*rsa + p*csa]. Writes ceil(mc/MR) panels of MR×kc, dst[p*MR + i],
// rows past mc zero-filled so the microkernel never needs a row mask.
static void pack_a(idx mc, idx kc, const float* __restrict a, idx rsa, idx csa,
                   float* __restrict dst) {
  for (idx i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int mr = static_cast<int>(std::min<idx>(MR, mc - i0));
    const float* s = a + i0 * rsa;
    if (csa == 1) {
      // A row-major: a panel row is contiguous in p. 8×8 register transposes where the
      // ISA has them, in groups of up to 8 panel rows; element by element otherwise.
      idx p0 = 0;
      if constexpr (Ops::kTranspose8) {
        p0 = kc / 8 * 8;
        for (int g = 0; g < MR; g += 8) {
          const int lanes = std::min(8, MR - g);
          const int rows = std::max(0, std::min(lanes, mr - g));
          for (idx p = 0; p < p0; p += 8) Ops::transpose8(s + g * rsa + p, rsa, rows, lanes, dst + p * MR + g, MR);
        }
      }
      for (int i = 0; i < mr; ++i) {
        const float* row = s + i * rsa;
        for (idx p = p0; p < kc; ++p) dst[p * MR + i] = row[p];
      }
      for (int i = mr; i < MR; ++i)
        for (idx p = p0; p < kc; ++p) dst[p * MR + i] = 0.0f;
    } else {
      // A stored transposed: the MR values of one p are contiguous.
      for (idx p = 0; p < kc; ++p) {
        const float* col = s + p * csa;
        float* d = dst + p * MR;
        if (mr == MR) {
          std::memcpy(d, col, sizeof(float) * MR);
        } else {
          for (int i = 0; i < mr; ++i) d[i] = col[i];
          for (int i = mr; i < MR; ++i) d[i] = 0.0f;
        }
      }
    }
  }
}

// op(B)(p, j) = b[p*rsb + j*csb]. Writes ceil(nc/NR) panels of kc×NR, dst[p*NR + j],
// columns past nc zero-filled.
static void pack_b(idx kc, idx nc, const float* __restrict b, idx rsb, idx csb,
                   float* __restrict dst) {
  const idx full = nc / NR;  // whole panels
  if (csb == 1) {
    // B row-major: a panel row is NR contiguous floats. Walk 8 rows at a time across
    // all panels, so only a few pages of B are in flight (twice as fast as panel by
    // panel, which touches kc pages per panel).
    for (idx p0 = 0; p0 < kc; p0 += 8) {
      const idx pe = std::min<idx>(kc, p0 + 8);
      for (idx jp = 0; jp < full; ++jp) {
        float* d = dst + jp * NR * kc;
        for (idx p = p0; p < pe; ++p) {
          const float* row = b + p * rsb + jp * NR;
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) Ops::store(d + p * NR + v * Ops::VL, Ops::load(row + v * Ops::VL));
        }
      }
    }
  } else {
    // B stored transposed (n×k): panel column j is row j of B, contiguous in p. Whole
    // 8×8 blocks go through a register transpose where the ISA has one, 8 source rows
    // at a time (8 sequential streams for the hardware prefetchers).
    for (idx jp = 0; jp < full; ++jp) {
      const float* s = b + jp * NR * csb;
      float* d = dst + jp * NR * kc;
      idx p0 = 0;
      if constexpr (Ops::kTranspose8) {
        p0 = kc / 8 * 8;
        for (int j = 0; j < NR; j += 8)
          for (idx p = 0; p < p0; p += 8) Ops::transpose8(s + j * csb + p, csb, 8, 8, d + p * NR + j, NR);
      }
      for (int j = 0; j < NR; ++j)
        for (idx p = p0; p < kc; ++p) d[p * NR + j] = s[j * csb + p];
    }
  }
  // The ragged last panel, zero-padded to NR columns.
  if (full * NR < nc) {
    const idx nr = nc - full * NR;
    const float* s = b + full * NR * csb;
    float* d = dst + full * NR * kc;
    for (idx p = 0; p < kc; ++p)
      for (idx j = 0; j < NR; ++j) d[p * NR + j] = j < nr ? s[p * rsb + j * csb] : 0.0f;
  }
}

// The register-blocked microkernel: an MR×NR tile of C from an A panel (MR×kc,
// packed) and kc rows of NR floats of B, row p at b + p*rsb (rsb = NR for a packed
// panel, ldb when read straight from row-major B). Writes
// c = alpha·acc + beta·c (beta = 0: c is not read).
__attribute__((noinline)) static void ukernel(idx kc, const float* __restrict a,
                                              const float* __restrict b, idx rsb,
                                              float* __restrict c, idx ldc, float alpha,
                                              float beta) {
  typename Ops::V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = Ops::zero();

  for (int i = 0; i < MR; ++i) __builtin_prefetch(c + i * ldc, 1);
  for (idx p = 0; p < kc; ++p) {
    typename Ops::V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = Ops::load(b + v * Ops::VL);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename Ops::V ai = Ops::bcast(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = Ops::fma(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += rsb;
  }

  const typename Ops::V va = Ops::bcast(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) Ops::store(c + i * ldc + v * Ops::VL, Ops::mul(va, acc[i][v]));
  } else {
    const typename Ops::V vb = Ops::bcast(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* cp = c + i * ldc + v * Ops::VL;
        Ops::store(cp, Ops::fma(va, acc[i][v], Ops::mul(vb, Ops::load(cp))));
      }
  }
}

// A partial tile (mr < MR or nr < NR, at the bottom/right edge of C): run the full
// kernel into a local tile (packed panels are zero-padded, so that is safe), then
// merge the valid mr×nr corner.
static void ukernel_edge(idx kc, const float* a, const float* b, idx rsb, float* c, idx ldc,
                         int mr, int nr, float alpha, float beta) {
  alignas(64) float t[MR * NR];
  ukernel(kc, a, b, rsb, t, NR, alpha, 0.0f);
  for (int i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    const float* ti = t + i * NR;
    if (beta == 0.0f) {
      for (int j = 0; j < nr; ++j) ci[j] = ti[j];
    } else {
      for (int j = 0; j < nr; ++j) ci[j] = ti[j] + beta * ci[j];
    }
  }
}

// C = beta·C (k = 0: nothing to multiply).
static void scale_c(idx m, idx n, float beta, float* c) {
  const idx total = m * n;
  if (beta == 0.0f) {
    for (idx i = 0; i < total; ++i) c[i] = 0.0f;
  } else if (beta != 1.0f) {
    for (idx i = 0; i < total; ++i) c[i] *= beta;
  }
}

static inline idx ceil_div(idx a, idx b) { return (a + b - 1) / b; }

static void gemm(bool trans_a, bool trans_b, idx m, idx n, idx k, float alpha,
                 const float* a, const float* b, float beta, float* c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {  // as BLAS: A and B are not read (their NaNs do not reach C)
    scale_c(m, n, beta, c);
    return;
  }
  // Element strides of op(A) (m×k) and op(B) (k×n) over the stored row-major arrays.
  const idx rsa = trans_a ? 1 : k, csa = trans_a ? m : 1;
  const idx rsb = trans_b ? 1 : n, csb = trans_b ? k : 1;

  // At most two row tiles of C: packing B would cost more than using it (measured: a
  // win up to m ≈ 2·MR, a loss beyond), so full NR-wide column panels of a row-major B
  // are read in place; only the ragged right edge is packed, for its zero padding.
  const bool direct_b = !trans_b && m <= 2 * MR;

  // Even k blocks (k = 300 → 150 + 150, not 256 + 44): the microkernel's loop
  // overhead and C traffic are per block.
  const idx kblocks = ceil_div(k, KC);
  const idx kcb = ceil_div(k, kblocks);
  const idx ncb = std::min<idx>(NC, n);

  float* ap = scratch(0, static_cast<std::size_t>(MC * kcb));
  float* bp = scratch(1, static_cast<std::size_t>(ceil_div(ncb, NR) * NR * kcb));

  for (idx jc = 0; jc < n; jc += NC) {
    const idx nc = std::min<idx>(NC, n - jc);
    const idx nc_direct = direct_b ? nc / NR * NR : 0;
    for (idx pc = 0; pc < k; pc += kcb) {
      const idx kc = std::min<idx>(kcb, k - pc);
      const float beta_eff = pc == 0 ? beta : 1.0f;
      if (nc > nc_direct)
        pack_b(kc, nc - nc_direct, b + pc * rsb + (jc + nc_direct) * csb, rsb, csb, bp);
      for (idx ic = 0; ic < m; ic += MC) {
        const idx mc = std::min<idx>(MC, m - ic);
        pack_a(mc, kc, a + ic * rsa + pc * csa, rsa, csa, ap);
        for (idx jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<idx>(NR, nc - jr));
          const float* bpanel;
          idx bstride;
          if (jr < nc_direct) {
            bpanel = b + pc * n + jc + jr;
            bstride = n;
          } else {
            bpanel = bp + (jr - nc_direct) * kc;
            bstride = NR;
          }
          for (idx ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<idx>(MR, mc - ir));
            float* ct = c + (ic + ir) * n + jc + jr;
            if (mr == MR && nr == NR)
              ukernel(kc, ap + ir * kc, bpanel, bstride, ct, n, alpha, beta_eff);
            else
              ukernel_edge(kc, ap + ir * kc, bpanel, bstride, ct, n, mr, nr, alpha, beta_eff);
          }
        }
      }
    }
  }
}
