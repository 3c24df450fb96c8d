// 8×8 float transposes with AVX2, shared by the AVX2 and AVX-512 tables for packing
// transposed panels. Not a normal header: included inside an instruction-set region
// (see isa_avx2.cc) and an anonymous namespace. No include guard on purpose.

// o[q] = lane q of each r[i], i.e. o[q][i] = r[i][q] (unpack, shuffle, then swap 128-bit halves).
static inline __attribute__((always_inline)) void transpose8_regs(const __m256 r[8], __m256 o[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  o[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  o[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  o[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  o[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  o[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  o[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  o[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  o[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Stores the first n (≤ 8) lanes of v.
static inline __attribute__((always_inline)) void store_lanes(float* d, __m256 v, int n) {
  if (n == 8) {
    _mm256_storeu_ps(d, v);
    return;
  }
  __m128 x = _mm256_castps256_ps128(v);
  if (n >= 4) {
    _mm_storeu_ps(d, x);
    x = _mm256_extractf128_ps(v, 1);
    d += 4;
    n -= 4;
  }
  if (n >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(d), x);
    x = _mm_movehl_ps(x, x);
    d += 2;
    n -= 2;
  }
  if (n == 1) _mm_store_ss(d, x);
}

// d[q*ldd + i] = s[i*lds + q] for q < 8 and i < lanes (≤ 8): an 8-column strip of
// `rows` source rows, transposed; rows past `rows` (up to `lanes`) read as zeros.
static inline __attribute__((always_inline)) void transpose8_rows(const float* s, idx lds, int rows,
                                                                  int lanes, float* d, idx ldd) {
  __m256 r[8], o[8];
  for (int i = 0; i < 8; ++i) r[i] = i < rows ? _mm256_loadu_ps(s + i * lds) : _mm256_setzero_ps();
  transpose8_regs(r, o);
  for (int q = 0; q < 8; ++q) store_lanes(d + q * ldd, o[q], lanes);
}
