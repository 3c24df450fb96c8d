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

// Copies a kc×cols block of op(B), element (p, j) at b[p*rsb + j*csb], into a kc×width
// panel (dst[p*width + j]), zero-padding columns cols..width.
static void pad_panel(idx kc, idx cols, int width, const float* __restrict b, idx rsb, idx csb,
                      float* __restrict dst) {
  for (idx p = 0; p < kc; ++p)
    for (idx j = 0; j < width; ++j) dst[p * width + j] = j < cols ? b[p * rsb + j * csb] : 0.0f;
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
  if (full * NR < nc)
    pad_panel(kc, nc - full * NR, NR, b + full * NR * csb, rsb, csb, dst + full * NR * kc);
}

// The register-blocked microkernel: an R×(W·VL) tile of C from kc columns of op(A),
// element (i, p) at a[i*ars + p*acs], and kc rows of W·VL floats of B, row p at
// b + p*rsb. Writes c = alpha·acc + beta·c (beta = 0: c is not read). Each element is
// one FMA chain over p in order, so the result does not depend on how C is tiled.
// kPacked: A is a packed panel (ars = 1, acs = MR: compile-time strides for the hot
// loop); otherwise A is read in place with the strides given (the direct paths).
template <int R, int W, bool kPacked>
static inline __attribute__((always_inline)) void ukernel(idx kc, const float* __restrict a,
                                                          idx ars, idx acs,
                                                          const float* __restrict b, idx rsb,
                                                          float* __restrict c, idx ldc,
                                                          float alpha, float beta) {
  if constexpr (kPacked) {
    ars = 1;
    acs = MR;
  }
  typename Ops::V acc[R][W];
#pragma GCC unroll 32
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 32
    for (int v = 0; v < W; ++v) acc[i][v] = Ops::zero();

  for (int i = 0; i < R; ++i) __builtin_prefetch(c + i * ldc, 1);
  for (idx p = 0; p < kc; ++p) {
    typename Ops::V bv[W];
#pragma GCC unroll 32
    for (int v = 0; v < W; ++v) bv[v] = Ops::load(b + v * Ops::VL);
#pragma GCC unroll 32
    for (int i = 0; i < R; ++i) {
      const typename Ops::V ai = Ops::bcast(a[i * ars]);
#pragma GCC unroll 32
      for (int v = 0; v < W; ++v) acc[i][v] = Ops::fma(ai, bv[v], acc[i][v]);
    }
    a += acs;
    b += rsb;
  }

  const typename Ops::V va = Ops::bcast(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 32
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 32
      for (int v = 0; v < W; ++v) Ops::store(c + i * ldc + v * Ops::VL, Ops::mul(va, acc[i][v]));
  } else {
    const typename Ops::V vb = Ops::bcast(beta);
#pragma GCC unroll 32
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 32
      for (int v = 0; v < W; ++v) {
        float* cp = c + i * ldc + v * Ops::VL;
        Ops::store(cp, Ops::fma(va, acc[i][v], Ops::mul(vb, Ops::load(cp))));
      }
  }
}

using TileFn = void (*)(idx kc, const float* a, idx ars, idx acs, const float* b, idx rsb, float* c,
                        idx ldc, float alpha, float beta);
// The packed path's kernel stays out of line, one call per tile; the direct paths
// inline theirs into their column loops (a tile of a short k is mostly overhead).
__attribute__((noinline)) static void packed_tile(idx kc, const float* a, idx ars, idx acs,
                                                  const float* b, idx rsb, float* c, idx ldc,
                                                  float alpha, float beta) {
  ukernel<MR, NV, true>(kc, a, ars, acs, b, rsb, c, ldc, alpha, beta);
}
constexpr TileFn kPackedTile = &packed_tile;

// A tile narrower than its kernel at the right edge of C: `kern` computes the full
// tile (all MR rows of a zero-padded packed A panel, or `rows` rows of in-place A)
// from a B panel zero-padded to `width` columns into a local tile; then the valid
// rows×nr corner is merged into C.
static void ukernel_edge(TileFn kern, int rows, int nr, int width, idx kc, const float* a, idx ars,
                         idx acs, const float* b, idx rsb, float* c, idx ldc, float alpha,
                         float beta) {
  alignas(64) float t[MR * NR];
  kern(kc, a, ars, acs, b, rsb, t, width, alpha, 0.0f);
  for (int i = 0; i < rows; ++i) {
    float* ci = c + i * ldc;
    const float* ti = t + i * width;
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

// The packed BLIS path (see the top of this file); strides as in gemm().
static void gemm_packed(bool trans_b, idx m, idx n, idx k, float alpha, const float* a, idx rsa,
                        idx csa, const float* b, idx rsb, idx csb, float beta, float* c) {
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
            const float* at = ap + ir * kc;
            if (mr == MR && nr == NR)
              kPackedTile(kc, at, 1, MR, bpanel, bstride, ct, n, alpha, beta_eff);
            else
              ukernel_edge(kPackedTile, mr, nr, NR, kc, at, 1, MR, bpanel, bstride, ct, n, alpha,
                           beta_eff);
          }
        }
      }
    }
  }
}

// --- Direct paths for skinny shapes -------------------------------------------------
// With one tiny dimension, packing the large operand costs more than the arithmetic
// done with it, so these read A and B in place. Which path runs depends only on the
// shape, so results stay bit-identical from call to call.

// Vector accumulators a direct tile may use: as many as the packed MR×NV tile, at most
// AVX-512's 24 (the test-only wide table's 12×4 tile has 48).
constexpr int kAcc = MR * NV < 24 ? MR * NV : 24;

// One block of rows of gemm_rank: op(A)(i, p) at a[i*rsa + p*csa], row p of B at
// b + p*ldb, kc steps of p; C has row stride ldb too. `edge` holds these kc rows of
// B's columns past the last whole vector, zero-padded to VL.
struct RankBlock {
  idx kc;
  const float* a;
  idx rsa, csa;
  const float* b;
  idx ldb;
  const float* edge;
  float* c;
  float alpha, beta;
};

// Columns [j, je) of an R-row block with tiles W vectors wide while they fit, then
// narrower ones (W/2, …, 1), so the leftover columns still get several FMA chains.
// Returns where the whole vectors end.
template <int R, int W>
static idx rank_sweep(const RankBlock& g, idx j, idx je) {
  for (; j + W * Ops::VL <= je; j += W * Ops::VL)
    ukernel<R, W, false>(g.kc, g.a, g.rsa, g.csa, g.b + j, g.ldb, g.c + j, g.ldb, g.alpha, g.beta);
  if constexpr (W > 1) {
    return rank_sweep<R, W / 2>(g, j, je);
  } else {
    return j;
  }
}

// Columns [j, je) of a block of `rows` ≤ R rows. Every height has its own kernels (a
// row edge cannot be zero-padded when A is not copied), each as wide as the
// accumulators allow: R = 1 gets kAcc vectors.
template <int R = MR>
static void rank_block(int rows, const RankBlock& g, idx j, idx je) {
  if constexpr (R > 1) {
    if (rows < R) return rank_block<R - 1>(rows, g, j, je);
  }
  j = rank_sweep<R, kAcc / R>(g, j, je);
  if (j < je)
    ukernel_edge(&ukernel<R, 1, false>, R, static_cast<int>(je - j), Ops::VL, g.kc, g.a, g.rsa,
                 g.csa, g.edge, Ops::VL, g.c + j, g.ldb, g.alpha, g.beta);
}

// C = alpha·op(A)·B + beta·C, row-major B, op(A)(i, p) = a[i*rsa + p*csa]: a rank-k
// update for a short k (NN: C is streamed through once) or few rows of C (TN: B is
// read once per block of MR rows). Loops: even k blocks of at most KC (B's rows at a
// page or so apart: a long walk down B's columns would miss the TLB) → column chunks
// whose B block stays in L1 across the row blocks → row blocks → tiles.
static void gemm_rank(idx m, idx n, idx k, float alpha, const float* a, idx rsa, idx csa,
                      const float* b, float beta, float* c) {
  constexpr int VL = Ops::VL;
  const idx kcb = ceil_div(k, ceil_div(k, KC));
  const idx nvec = n / VL * VL;
  float* edge = nvec < n ? scratch(1, static_cast<std::size_t>(kcb * VL)) : nullptr;
  // 16 KB of B (half a small L1), in multiples of the widest tile.
  const idx jchunk = std::max<idx>(1, 4096 / (kcb * kAcc * VL)) * kAcc * VL;
  const idx row_blocks = ceil_div(m, MR);
  for (idx pc = 0; pc < k; pc += kcb) {
    RankBlock g{std::min(kcb, k - pc), nullptr, rsa, csa, b + pc * n, n, edge, nullptr, alpha,
                pc == 0 ? beta : 1.0f};
    if (edge) pad_panel(g.kc, n - nvec, VL, g.b + nvec, n, 1, edge);
    for (idx jc = 0; jc < n; jc += jchunk) {
      for (idx rb = 0, i = 0; rb < row_blocks; ++rb) {
        const int rows = static_cast<int>(ceil_div(m - i, row_blocks - rb));  // even: 10 → 5 + 5
        g.a = a + i * rsa + pc * csa;
        g.c = c + i * n;
        rank_block(rows, g, jc, std::min(n, jc + jchunk));
        i += rows;
      }
    }
  }
}

// Sum of a vector's lanes, by halves (a fixed order).
static inline float hsum(typename Ops::V v) {
  alignas(64) float t[Ops::VL];
  Ops::store(t, v);
  for (int w = Ops::VL / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) t[l] += t[l + w];
  return t[0];
}

// Dot-product tile of gemm_dot: C[i][j] (i < R, j < J) = alpha·(row i of A)·(row j of B)
// + beta·C[i][j], rows of k floats. R·J vector accumulators over whole vectors of k,
// then each is summed across lanes and finished with the k % VL tail.
template <int R, int J>
__attribute__((noinline)) static void dot_tile(idx k, const float* __restrict a,
                                               const float* __restrict b, float* __restrict c,
                                               idx ldc, float alpha, float beta) {
  typename Ops::V acc[R][J];
#pragma GCC unroll 32
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 32
    for (int j = 0; j < J; ++j) acc[i][j] = Ops::zero();
  idx p = 0;
  for (; p + Ops::VL <= k; p += Ops::VL) {
    typename Ops::V bv[J];
#pragma GCC unroll 32
    for (int j = 0; j < J; ++j) bv[j] = Ops::load(b + j * k + p);
#pragma GCC unroll 32
    for (int i = 0; i < R; ++i) {
      const typename Ops::V ai = Ops::load(a + i * k + p);
#pragma GCC unroll 32
      for (int j = 0; j < J; ++j) acc[i][j] = Ops::fma(ai, bv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 32
    for (int j = 0; j < J; ++j) {
      float s = hsum(acc[i][j]);
      for (idx q = p; q < k; ++q) s = std::fma(a[i * k + q], b[j * k + q], s);
      float& cij = c[i * ldc + j];
      cij = beta == 0.0f ? alpha * s : alpha * s + beta * cij;
    }
}

using DotFn = void (*)(idx k, const float* a, const float* b, float* c, idx ldc, float alpha,
                       float beta);

// Rows of A per dot tile; with JD rows of B that is RD·JD = kAcc accumulators and
// RD + JD loads per RD·JD FMAs.
constexpr int RD = 4, JD = kAcc / RD;

// Dot tiles for `cols` ≤ JD rows of B: RD rows of A, and one row for the bottom edge.
struct DotTiles {
  DotFn tall, one;
};
template <int J = JD>
static DotTiles dot_tiles(int cols) {
  if constexpr (J > 1) {
    if (cols < J) return dot_tiles<J - 1>(cols);
  }
  return {&dot_tile<RD, J>, &dot_tile<1, J>};
}

// C = alpha·A·Bᵀ + beta·C for A (m×k) and B (n×k) both row-major and a small n: each
// element is a dot product of two contiguous rows. A is read once (a tile's RD rows
// stay in L1 while they meet every row of B), B stays in L1/L2.
static void gemm_dot(idx m, idx n, idx k, float alpha, const float* a, const float* b,
                     float beta, float* c) {
  for (idx i = 0; i < m; i += RD) {
    const int rows = static_cast<int>(std::min<idx>(RD, m - i));
    for (idx j = 0; j < n; j += JD) {
      const DotTiles t = dot_tiles(static_cast<int>(std::min<idx>(JD, n - j)));
      if (rows == RD) {
        t.tall(k, a + i * k, b + j * k, c + i * n + j, n, alpha, beta);
      } else {
        for (int r = 0; r < rows; ++r)
          t.one(k, a + (i + r) * k, b + j * k, c + (i + r) * n + j, n, alpha, beta);
      }
    }
  }
}

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
  // Where the direct paths beat the packed one (measured with AVX2 on Zen 3; the
  // same limits serve AVX-512):
  // - NN, k ≤ 12: beyond, B's k rows (power-of-two strides put them in one L1 set)
  //   start to evict each other and the packed path catches up;
  // - TN, m ≤ MR: B is streamed once, a win at any size; up to 16 rows (2–3 blocks,
  //   each reading B again) only while B's k rows stay cached (k ≤ KC);
  // - NT, n ≤ 12 and k ≥ 8n: the packed path pads n to NR columns; the dot products
  //   need enough k to amortize their lane sums.
  // The scalar build keeps to the packed path: the compiler vectorizes its 4×4 tile
  // but not the direct kernels (measured up to 3× slower; only m = 1 or n = 1 won).
  constexpr bool kDirect = Ops::VL > 1;
  if (kDirect && !trans_b && (trans_a ? m <= MR || (m <= 16 && k <= KC) : k <= 12)) {
    gemm_rank(m, n, k, alpha, a, rsa, csa, b, beta, c);
  } else if (kDirect && !trans_a && trans_b && n <= 12 && k >= 8 * n) {
    gemm_dot(m, n, k, alpha, a, b, beta, c);
  } else {
    gemm_packed(trans_b, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c);
  }
}
