/**
 * Small dense float64 linear algebra for the T×T problems of the strategies
 * (T = number of tasks, a handful): linear solves, a symmetric eigen-solver,
 * non-negative least squares on a Gramian, the min-norm point of a convex hull,
 * simplex projection, and the power-balance equation G·w = w^(−p) of Nash-MTL
 * and FairGrad. Matrices are row-major Float64Arrays. Results are fresh arrays
 * (T or T² elements — never proportional to the number of parameters).
 */

/** The largest diagonal entry of the T×T matrix g (0 for an all-zero Gramian). */
export function maxDiag(g: Float64Array, T: number): number {
  let m = 0;
  for (let i = 0; i < T; i++) m = Math.max(m, g[i * T + i]);
  return m;
}

/** a (n×n) times x. */
export function matVec(a: Float64Array, x: ArrayLike<number>, n: number, out = new Float64Array(n)): Float64Array {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j] * x[j];
    out[i] = s;
  }
  return out;
}

/** xᵀ·a·y for an n×n matrix a. */
export function quadForm(a: Float64Array, x: ArrayLike<number>, y: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let j = 0; j < n; j++) r += a[i * n + j] * y[j];
    s += x[i] * r;
  }
  return s;
}

/**
 * Solves a·x = b (a n×n, not modified) by Gaussian elimination with partial
 * pivoting. Returns null when a pivot falls below rcond × the largest |a_ij|
 * (numerically singular).
 */
export function solveLinear(a: Float64Array, b: ArrayLike<number>, n: number, rcond = 1e-13): Float64Array | null {
  const m = Float64Array.from(a.subarray(0, n * n));
  const x = Float64Array.from({ length: n }, (_, i) => b[i]);
  let big = 0;
  for (let i = 0; i < n * n; i++) big = Math.max(big, Math.abs(m[i]));
  if (big === 0 || !Number.isFinite(big)) return n === 0 ? x : null;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]) > Math.abs(m[p * n + k])) p = i;
    if (!(Math.abs(m[p * n + k]) > rcond * big)) return null;
    if (p !== k) {
      for (let j = 0; j < n; j++) { const t = m[k * n + j]; m[k * n + j] = m[p * n + j]; m[p * n + j] = t; }
      const t = x[k]; x[k] = x[p]; x[p] = t;
    }
    const d = m[k * n + k];
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k] / d;
      if (f === 0) continue;
      for (let j = k; j < n; j++) m[i * n + j] -= f * m[k * n + j];
      x[i] -= f * x[k];
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i];
    for (let j = i + 1; j < n; j++) s -= m[i * n + j] * x[j];
    x[i] = s / m[i * n + i];
  }
  return x;
}

export interface Eigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** n×n row-major; column k (vectors[i·n + k]) is the unit eigenvector of values[k]. */
  vectors: Float64Array;
}

/**
 * Eigen-decomposition of a symmetric n×n matrix (only symmetric input makes
 * sense; a is not modified) by the cyclic Jacobi method: rotations zero the
 * off-diagonal entries one by one until their squared sum is below 1e-30 of
 * the matrix's squared Frobenius norm (or 100 sweeps). Accurate to a few ulps
 * of the largest eigenvalue, including for singular matrices.
 */
export function symmetricEigen(a: Float64Array, n: number): Eigen {
  const m = Float64Array.from(a.subarray(0, n * n));
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += m[i] * m[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] * m[p * n + q];
    if (off <= 1e-30 * total) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.abs(theta) > 1e150
          ? 1 / (2 * theta)
          : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) { // columns p, q: m ← m·P
          const kp = m[k * n + p]; const kq = m[k * n + q];
          m[k * n + p] = c * kp - s * kq;
          m[k * n + q] = s * kp + c * kq;
        }
        for (let k = 0; k < n; k++) { // rows p, q: m ← Pᵀ·m
          const pk = m[p * n + k]; const qk = m[q * n + k];
          m[p * n + k] = c * pk - s * qk;
          m[q * n + k] = s * pk + c * qk;
        }
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        for (let k = 0; k < n; k++) { // v ← v·P
          const kp = v[k * n + p]; const kq = v[k * n + q];
          v[k * n + p] = c * kp - s * kq;
          v[k * n + q] = s * kp + c * kq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j] - m[i * n + i]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = m[src * n + src];
    for (let i = 0; i < n; i++) vectors[i * n + k] = v[i * n + src];
  });
  return { values, vectors };
}

/**
 * The minimum-norm least-squares solution of a·x = b for a general m×n matrix a:
 * x = (aᵀa)⁺·aᵀb through the eigen-decomposition of aᵀa, eigenvalues below
 * 1e-12 × the largest treated as zero. For the singular systems the direct solver
 * rejects.
 */
export function leastSquaresMinNorm(a: Float64Array, b: ArrayLike<number>, m: number, n: number): Float64Array {
  const ata = new Float64Array(n * n);
  const atb = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < m; k++) s += a[k * n + i] * a[k * n + j];
      ata[i * n + j] = s;
    }
    let s = 0;
    for (let k = 0; k < m; k++) s += a[k * n + i] * b[k];
    atb[i] = s;
  }
  const { values, vectors } = symmetricEigen(ata, n);
  const x = new Float64Array(n);
  const cut = 1e-12 * Math.max(values[0], 0);
  for (let k = 0; k < n; k++) {
    if (!(values[k] > cut)) continue;
    let c = 0;
    for (let i = 0; i < n; i++) c += vectors[i * n + k] * atb[i];
    c /= values[k];
    for (let i = 0; i < n; i++) x[i] += c * vectors[i * n + k];
  }
  return x;
}

/**
 * Non-negative least squares given only the normal equations:
 * argmin_{x ≥ 0} ‖A·x − b‖² from AtA = AᵀA (n×n, PSD) and Atb = Aᵀb — the
 * Lawson–Hanson active-set method in Bro & de Jong's normal-equation form.
 * Finite and exact up to rounding: at the returned x, (Atb − AtA·x)_j is 0 on the
 * free set and ≤ tol (1e-12 relative) on the bound set — the KKT conditions.
 */
export function nnls(AtA: Float64Array, Atb: ArrayLike<number>, n: number): Float64Array {
  const x = new Float64Array(n);
  const scale = maxDiag(AtA, n);
  if (!(scale > 0)) return x;
  const a = Float64Array.from(AtA.subarray(0, n * n), (v) => v / scale);
  const b = Float64Array.from({ length: n }, (_, i) => Atb[i] / scale);
  let bmax = 0;
  for (let i = 0; i < n; i++) bmax = Math.max(bmax, Math.abs(b[i]));
  const tol = 1e-12 * n * Math.max(1, bmax);
  const passive = new Uint8Array(n);
  const excluded = new Uint8Array(n); // indices that failed to enter (dependent columns): never retried
  const w = new Float64Array(n);
  const limit = 3 * n + 30;

  // s on P: the unconstrained least-squares solution over the passive set (0 elsewhere)
  const solveP = (): Float64Array | null => {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (passive[i]) idx.push(i);
    const k = idx.length;
    const sub = new Float64Array(k * k);
    const rhs = new Float64Array(k);
    for (let r = 0; r < k; r++) {
      rhs[r] = b[idx[r]];
      for (let c = 0; c < k; c++) sub[r * k + c] = a[idx[r] * n + idx[c]];
    }
    const sol = solveLinear(sub, rhs, k, 1e-14);
    if (sol === null) return null;
    const s = new Float64Array(n);
    for (let r = 0; r < k; r++) s[idx[r]] = sol[r];
    return s;
  };

  for (let outer = 0; outer < limit; outer++) {
    for (let i = 0; i < n; i++) {
      let s = b[i];
      for (let j = 0; j < n; j++) s -= a[i * n + j] * x[j];
      w[i] = s;
    }
    let t = -1;
    for (let i = 0; i < n; i++) {
      if (passive[i] || excluded[i]) continue;
      if (w[i] > tol && (t < 0 || w[i] > w[t])) t = i;
    }
    if (t < 0) break;
    passive[t] = 1;
    let first = true;
    for (let inner = 0; inner < limit; inner++) {
      const s = solveP();
      if (s === null || (first && !(s[t] > 0))) {
        // t's column depends on the passive ones (or rounding says so): leave x as it is
        passive[t] = 0;
        excluded[t] = 1;
        break;
      }
      first = false;
      let alpha = Infinity;
      let hit = -1;
      for (let i = 0; i < n; i++) {
        if (!passive[i] || s[i] > 0) continue;
        const ai = x[i] / (x[i] - s[i]);
        if (ai < alpha) { alpha = ai; hit = i; }
      }
      if (hit < 0) { x.set(s); break; }
      // move towards s until the first passive variable reaches 0, and free it
      for (let i = 0; i < n; i++) if (passive[i]) x[i] += alpha * (s[i] - x[i]);
      x[hit] = 0;
      for (let i = 0; i < n; i++) {
        if (passive[i] && x[i] <= 0) { passive[i] = 0; x[i] = 0; }
      }
    }
  }
  for (let i = 0; i < n; i++) if (!passive[i]) x[i] = 0;
  return x;
}

/** Euclidean projection of v onto the probability simplex {x ≥ 0, Σx = 1} (sort-based, exact). */
export function projectSimplex(v: ArrayLike<number>, n: number, out = new Float64Array(n)): Float64Array {
  const u = Array.from({ length: n }, (_, i) => v[i]).sort((p, q) => q - p);
  let cum = 0;
  let theta = 0;
  for (let k = 0; k < n; k++) {
    cum += u[k];
    const t = (cum - 1) / (k + 1);
    if (u[k] - t > 0) theta = t;
  }
  for (let i = 0; i < n; i++) out[i] = Math.max(v[i] - theta, 0);
  return out;
}

/**
 * The min-norm point of the convex hull of the task gradients, from their Gramian:
 * λ = argmin_{λ ∈ simplex} λᵀGλ, the MGDA problem.
 * - T = 1: λ = [1]. T = 2: the closed form γ = clip(((g₂−g₁)·g₂)/‖g₁−g₂‖², 0, 1).
 * - Otherwise Frank–Wolfe with exact line search (the two-point closed form,
 *   Sener & Koltun's Algorithm 2) and away steps (Lacoste-Julien & Jaggi 2015,
 *   linear convergence on a polytope), from λ = 1/T, until both the Frank–Wolfe
 *   and the away gap are below 1e-13 of max_i G_ii or after `maxIter` iterations;
 *   then one exact solve of the KKT system on the support found
 *   (G_SS·λ_S = μ·1, Σλ_S = 1), kept when it is feasible and optimal.
 *   When Frank–Wolfe stopped short of the tolerance and that solve did not apply
 *   (degenerate hulls — more tasks than independent directions — where its
 *   convergence is slow and λ is not unique), the exact finite solution of the
 *   equivalent non-negative least squares problem is used instead:
 *   x = argmin_{x ≥ 0} ‖Jᵀx‖² + (1ᵀx − 1)² (normal equations G + 11ᵀ, 1), λ = x/Σx
 *   (for fixed s = Σx the best x is s·λ*, and s = 1/(1 + ‖d*‖²) > 0).
 * All-zero G: λ = 1/T (every point is the min-norm point 0).
 */
export function minNormInHull(G: Float64Array, T: number, maxIter = 10_000): Float64Array {
  const lambda = new Float64Array(T).fill(1 / T);
  if (T === 1) { lambda[0] = 1; return lambda; }
  const scale = maxDiag(G, T);
  if (!(scale > 0)) return lambda;
  const g = Float64Array.from(G.subarray(0, T * T), (v) => v / scale);
  if (T === 2) {
    const den = g[0] + g[3] - 2 * g[1];
    const gamma = den > 0 ? Math.min(1, Math.max(0, (g[3] - g[1]) / den)) : 0.5;
    lambda[0] = gamma;
    lambda[1] = 1 - gamma;
    return lambda;
  }
  const tol = 1e-13;
  const q = new Float64Array(T);
  let converged = false;
  for (let it = 0; it < maxIter; it++) {
    matVec(g, lambda, T, q);
    let a = 0;
    for (let i = 0; i < T; i++) a += lambda[i] * q[i];
    let t = 0;
    let s = -1;
    for (let i = 0; i < T; i++) {
      if (q[i] < q[t]) t = i;
      if (lambda[i] > 0 && (s < 0 || q[i] > q[s])) s = i;
    }
    const gapFw = a - q[t];
    const gapAway = q[s] - a;
    if (gapFw <= tol && gapAway <= tol) { converged = true; break; }
    if (gapFw >= gapAway) {
      const den = a - 2 * q[t] + g[t * T + t];
      const gamma = den > 0 ? Math.min(1, gapFw / den) : 1;
      for (let i = 0; i < T; i++) lambda[i] *= 1 - gamma;
      lambda[t] += gamma;
    } else {
      const ls = lambda[s];
      const gmax = ls / (1 - ls);
      const den = a - 2 * q[s] + g[s * T + s];
      const gamma = den > 0 ? Math.min(gmax, gapAway / den) : gmax;
      for (let i = 0; i < T; i++) lambda[i] *= 1 + gamma;
      lambda[s] -= gamma;
      if (gamma === gmax || lambda[s] < 0) lambda[s] = 0;
    }
  }
  if (!polishMinNorm(g, T, lambda) && !converged) {
    const a = Float64Array.from(g, (v) => v + 1);
    const x = nnls(a, new Float64Array(T).fill(1), T);
    let total = 0;
    for (let i = 0; i < T; i++) total += x[i];
    if (total > 0) for (let i = 0; i < T; i++) lambda[i] = x[i] / total;
  }
  return lambda;
}

/**
 * Replaces λ by the exact KKT solution on its support when that solution is
 * feasible and optimal; returns whether it did.
 */
function polishMinNorm(g: Float64Array, T: number, lambda: Float64Array): boolean {
  const idx: number[] = [];
  for (let i = 0; i < T; i++) if (lambda[i] > 0) idx.push(i);
  const k = idx.length;
  // [G_SS  −1] [λ_S]   [0]
  // [1ᵀ     0] [ μ ] = [1]
  const m = k + 1;
  const sys = new Float64Array(m * m);
  const rhs = new Float64Array(m);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < k; c++) sys[r * m + c] = g[idx[r] * T + idx[c]];
    sys[r * m + k] = -1;
    sys[k * m + r] = 1;
  }
  rhs[k] = 1;
  const sol = solveLinear(sys, rhs, m, 1e-12);
  if (sol === null) return false;
  const cand = new Float64Array(T);
  for (let r = 0; r < k; r++) {
    if (!(sol[r] > 0)) return false;
    cand[idx[r]] = sol[r];
  }
  const q = matVec(g, cand, T);
  let a = 0;
  for (let i = 0; i < T; i++) a += cand[i] * q[i];
  for (let i = 0; i < T; i++) if (q[i] < a - 1e-12) return false;
  lambda.set(cand);
  return true;
}

/**
 * The positive solution w of G·w = w^(−p) (elementwise power, p > 0): the
 * stationarity condition of F(w) = ½wᵀGw − Σ h(w_i) with h′(w) = w^(−p)
 * (h = log for p = 1), strictly convex on w > 0. Nash-MTL is p = 1, FairGrad
 * p = 1/α. Solved by damped Newton: Hessian G + diag(p·w^(−p−1)), a fraction-to-
 * the-boundary rule keeping w > 0, Armijo backtracking on F, from the best
 * multiple of 1, until max_i |(G·w)_i·w_i^p − 1| ≤ 1e-12 (or 200 iterations).
 *
 * Tasks with a zero gradient (G_ii ≤ 1e-14·max G_jj) have no solution (their
 * equation reads 0 = w^(−p)); they get weight 0 and are left out. When G is
 * singular in a way that leaves no solution (F unbounded below, e.g. exactly
 * opposite gradients: Newton does not converge), the system is solved again with
 * a ridge of 1e-10·max G_jj on the diagonal, which guarantees a solution; the
 * weights then grow like ridge^(−1/(1+p)) along a direction whose combination
 * Σ w_i g_i is (nearly) 0.
 */
export function powerBalance(G: Float64Array, T: number, p: number): Float64Array {
  const w = new Float64Array(T);
  const top = maxDiag(G, T);
  if (!(top > 0)) return w;
  const idx: number[] = [];
  for (let i = 0; i < T; i++) if (G[i * T + i] > 1e-14 * top) idx.push(i);
  const m = idx.length;
  const g = new Float64Array(m * m);
  for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) g[r * m + c] = G[idx[r] * T + idx[c]];
  let sol = newtonPowerBalance(g, m, p);
  if (sol === null) {
    for (let r = 0; r < m; r++) g[r * m + r] += 1e-10 * top;
    sol = newtonPowerBalance(g, m, p) ?? new Float64Array(m);
  }
  for (let r = 0; r < m; r++) w[idx[r]] = sol[r];
  return w;
}

/** max_i |(G·x)_i·x_i^p − 1|. */
function relativeResidual(g: Float64Array, x: Float64Array, m: number, p: number): number {
  let worst = 0;
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += g[i * m + j] * x[j];
    worst = Math.max(worst, Math.abs(s * Math.pow(x[i], p) - 1));
  }
  return Number.isNaN(worst) ? Infinity : worst;
}

/** Damped Newton for G·x = x^(−p) on an m×m G with a positive diagonal; null when it does not converge. */
function newtonPowerBalance(g: Float64Array, m: number, p: number): Float64Array | null {
  const h = p === 1 ? Math.log : (x: number) => Math.pow(x, 1 - p) / (1 - p);
  const F = (x: Float64Array): number => {
    let s = 0.5 * quadForm(g, x, x, m);
    for (let i = 0; i < m; i++) s -= h(x[i]);
    return s;
  };
  let sumG = 0;
  let top = 0;
  for (let i = 0; i < m * m; i++) sumG += g[i];
  for (let i = 0; i < m; i++) top = Math.max(top, g[i * m + i]);
  // F(c·1) = ½c²·1ᵀG1 − m·h(c) is minimal at c·1ᵀG1 = m·c^(−p)
  const c0 = sumG > 1e-12 * top * m ? Math.pow(m / sumG, 1 / (1 + p)) : Math.pow(1 / top, 1 / (1 + p));
  let x = new Float64Array(m).fill(c0);
  const gx = new Float64Array(m);
  const r = new Float64Array(m);
  const hess = new Float64Array(m * m);
  const trial = new Float64Array(m);
  let worst = Infinity;
  for (let it = 0; it < 200; it++) {
    matVec(g, x, m, gx);
    worst = 0;
    for (let i = 0; i < m; i++) {
      const xp = Math.pow(x[i], -p);
      r[i] = gx[i] - xp;
      worst = Math.max(worst, Math.abs(gx[i] / xp - 1));
    }
    if (worst <= 1e-13) return x;
    if (!x.every((v) => Number.isFinite(v) && v < 1e150)) return null;
    hess.set(g);
    for (let i = 0; i < m; i++) hess[i * m + i] += p * Math.pow(x[i], -p - 1);
    const step = solveLinear(hess, r.map((v) => -v), m, 1e-300);
    if (step === null) break;
    let t0 = 1;
    for (let i = 0; i < m; i++) if (step[i] < 0) t0 = Math.min(t0, -0.99 * x[i] / step[i]);
    let slope = 0;
    for (let i = 0; i < m; i++) slope += r[i] * step[i];
    const f0 = F(x);
    let accepted = false;
    // Armijo on F while its predicted decrease is resolvable in float64 ...
    for (let t = t0; -t * slope > 1e-13 * (1 + Math.abs(f0)); t *= 0.5) {
      for (let i = 0; i < m; i++) trial[i] = x[i] + t * step[i];
      if (F(trial) <= f0 + 1e-4 * t * slope) { accepted = true; break; }
    }
    // ... and below that (near the solution), on the relative residual instead.
    for (let k = 0, t = t0; !accepted && k < 40; k++, t *= 0.5) {
      for (let i = 0; i < m; i++) trial[i] = x[i] + t * step[i];
      accepted = relativeResidual(g, trial, m, p) < worst;
    }
    let moved = 0;
    for (let i = 0; i < m; i++) moved = Math.max(moved, Math.abs(trial[i] - x[i]) / x[i]);
    if (!accepted || moved <= 1e-15) break; // at the rounding floor: x is as good as it gets
    x = Float64Array.from(trial);
  }
  // converged up to rounding (the residual's floor is set by G's conditioning), or not at all
  return worst <= 1e-8 ? x : null;
}
