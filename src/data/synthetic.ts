/**
 * Synthetic multi-task data with a controllable task relatedness, after the generator
 * of Ma et al. 2018, "Modeling Task Relationships in Multi-task Learning with
 * Multi-gate Mixture-of-Experts" (KDD), section 4.1:
 *
 * 1. Orthonormal directions u_1..u_T in R^d (seeded Gaussian vectors, Gram–Schmidt).
 * 2. Task weight vectors with cosine ρ: for two tasks, w_1 = c·u_1 and
 *    w_2 = c·(ρ·u_1 + √(1−ρ²)·u_2), as in the paper. For T tasks, w_t = c·Σ_j L_tj u_j
 *    with L the Cholesky factor of the task correlation matrix R (R_ij = ρ for i ≠ j
 *    when `correlation` is a number, which needs ρ ≥ −1/(T−1); or a full matrix), so
 *    that cos(w_i, w_j) = R_ij exactly (the two-task case is the paper's formula).
 * 3. Inputs x ~ N(0, I_d).
 * 4. Targets y_t = w_tᵀx + Σ_{k=1..M} sin(α_k·w_tᵀx + β_k) + ε, with M = 10 sinusoids,
 *    α_k, β_k ~ N(0, 1) shared by the tasks (seeded), and ε ~ N(0, noise²) (default
 *    noise 0.1, i.e. the paper's N(0, 0.01)).
 *
 * Since x ~ N(0, I), corr(w_iᵀx, w_jᵀx) = cos(w_i, w_j) = R_ij: the correlation of the
 * tasks' linear parts is the parameter; the sinusoids make the tasks' relation nonlinear.
 *
 * Each task is a regression (mse on the standardized y, as for CSV data) or a binary
 * classification (label 1 when y_t is above its median over all rows, else 0;
 * bce_with_logits), so classes are balanced.
 *
 * Everything is a function of the seed, each part from its own stream: the inputs do
 * not change with the correlation, the task kinds or the noise, so runs that vary one
 * of them see the same x.
 */
import { UserError } from '../util/errors.js';
import { checkMemory } from '../util/memory.js';
import { Rng } from '../util/rng.js';
import type { Dataset } from './dataset.js';
import { type FeatureInput, type LabelInput, datasetFromColumns } from './dataset-from-columns.js';
import { DEFAULT_VALIDATION_FRACTION, checkSplitOptions } from './split.js';
import type { TaskSpec } from './task-spec.js';

export type SyntheticKind = 'regression' | 'classification';

export interface SyntheticOptions {
  /** Number of rows (default 4000). */
  rows?: number;
  /** Input width d (default 32; at least the number of tasks). */
  inputWidth?: number;
  /** Number of tasks (default 2). */
  tasks?: number;
  /**
   * Task relatedness: the cosine between every two tasks' weight vectors, in [−1, 1]
   * (default 0.5; with more than 2 tasks at least −1/(tasks−1)), or a full tasks × tasks
   * correlation matrix (symmetric, unit diagonal, positive semidefinite).
   */
  correlation?: number | number[][];
  /** Per task (or one for all): 'regression' (default) or 'classification'. */
  kinds?: SyntheticKind | SyntheticKind[];
  /** Task names (default task_0, task_1, ...). */
  names?: string[];
  /** Standard deviation of the noise ε (default 0.1). */
  noise?: number;
  /** Scale c of the weight vectors (default 1). */
  scale?: number;
  /** Number of sinusoids M (default 10). */
  sinusoids?: number;
  /** Seed of the data and of the split (default 0). */
  seed?: number;
  /** Fraction of rows held out for validation (default 0.2). */
  validationFraction?: number;
}

/** How a synthetic data set was generated (plain data). */
export interface SyntheticInfo {
  /** The task correlation matrix R = cos(w_i, w_j). */
  correlation: number[][];
  /** w_t, one per task, length inputWidth. */
  weights: number[][];
  alphas: number[];
  betas: number[];
  scale: number;
  noise: number;
  kinds: SyntheticKind[];
  /** Classification tasks: the threshold (median of y_t); regression tasks: null. */
  thresholds: (number | null)[];
}

export interface SyntheticDataset extends Dataset {
  synthetic: SyntheticInfo;
}

export const SYNTHETIC_DEFAULTS = Object.freeze({
  rows: 4000, inputWidth: 32, tasks: 2, correlation: 0.5, noise: 0.1, scale: 1, sinusoids: 10, seed: 0,
});

/** Stream ids under the seed: `new Rng(seed, SYNTHETIC_STREAM, part)`. */
export const SYNTHETIC_STREAM = 0x5e7d;
const DIRECTIONS = 0, SHAPE = 1, INPUTS = 2, NOISE = 3;

/** Standard normal samples by the Box–Muller transform on top of an Rng (both values used). */
export class NormalSampler {
  private spare: number | undefined;
  constructor(private readonly rng: Rng) {}

  next(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u1 = 1 - this.rng.next(); // (0, 1]: log is finite
    const u2 = this.rng.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

/** The MMoE-style synthetic multi-task data set (see the module comment). */
export function syntheticDataset(opts: SyntheticOptions = {}): SyntheticDataset {
  const d = SYNTHETIC_DEFAULTS;
  const rows = opts.rows ?? d.rows;
  const width = opts.inputWidth ?? d.inputWidth;
  const T = opts.tasks ?? d.tasks;
  const noise = opts.noise ?? d.noise;
  const scale = opts.scale ?? d.scale;
  const M = opts.sinusoids ?? d.sinusoids;
  const seed = opts.seed ?? d.seed;
  const what = 'synthetic data';
  const int = (v: unknown, name: string, min: number) => {
    if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= min)) {
      throw new UserError(`${what}: ${name} ${String(v)} is not an integer ≥ ${min}`);
    }
  };
  int(T, 'tasks', 1);
  int(rows, 'rows', 1);
  int(width, 'inputWidth', 1);
  int(M, 'sinusoids', 0);
  if (width < T) {
    throw new UserError(`${what}: inputWidth ${width} is less than the number of tasks ${T} (each task needs its own input direction)`);
  }
  if (!(typeof noise === 'number' && Number.isFinite(noise) && noise >= 0)) throw new UserError(`${what}: noise ${String(noise)} is not a number ≥ 0`);
  if (!(typeof scale === 'number' && Number.isFinite(scale) && scale > 0)) throw new UserError(`${what}: scale ${String(scale)} is not a number > 0`);
  // before allocating: inputs (Float64 here, Float32 in the dataset), targets, one feature entry per column
  checkMemory(`${what} (rows ${rows}, inputWidth ${width})`, {
    inputs: rows * width * (8 + 4), targets: rows * T * (8 + 8), columns: width * 200,
  });
  const { fraction } = checkSplitOptions({ seed, validationFraction: opts.validationFraction ?? DEFAULT_VALIDATION_FRACTION });
  const R = correlationMatrix(opts.correlation ?? d.correlation, T, what);
  const L = cholesky(R, what);
  const kinds = taskKinds(opts.kinds, T, what);
  const names = opts.names ?? Array.from({ length: T }, (_, t) => `task_${t}`);
  if (!Array.isArray(names) || names.length !== T) throw new UserError(`${what}: ${names?.length} names given for ${T} tasks`);

  // ---- directions u_1..u_T: Gaussian vectors, Gram–Schmidt
  const dirRng = new NormalSampler(new Rng(seed, SYNTHETIC_STREAM, DIRECTIONS));
  const u: Float64Array[] = [];
  while (u.length < T) {
    const v = Float64Array.from({ length: width }, () => dirRng.next());
    for (const b of u) {
      const p = dot(v, b);
      for (let i = 0; i < width; i++) v[i] -= p * b[i];
    }
    const norm = Math.sqrt(dot(v, v));
    if (norm < 1e-6) continue; // (practically never) nearly dependent: draw again
    for (let i = 0; i < width; i++) v[i] /= norm;
    u.push(v);
  }
  const W = L.map((row) => {
    const w = new Float64Array(width);
    row.forEach((l, j) => { if (l !== 0) for (let i = 0; i < width; i++) w[i] += scale * l * u[j][i]; });
    return w;
  });

  // ---- sinusoid shapes α_k, β_k
  const shapeRng = new NormalSampler(new Rng(seed, SYNTHETIC_STREAM, SHAPE));
  const alphas: number[] = [], betas: number[] = [];
  for (let k = 0; k < M; k++) { alphas.push(shapeRng.next()); betas.push(shapeRng.next()); }

  // ---- inputs and targets
  const x = new Float64Array(rows * width);
  const xRng = new NormalSampler(new Rng(seed, SYNTHETIC_STREAM, INPUTS));
  for (let i = 0; i < x.length; i++) x[i] = xRng.next();
  const ys: Float64Array[] = W.map((w, t) => {
    const eps = new NormalSampler(new Rng(seed, SYNTHETIC_STREAM, NOISE, t));
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let z = 0;
      for (let i = 0; i < width; i++) z += w[i] * x[r * width + i];
      let s = z;
      for (let k = 0; k < M; k++) s += Math.sin(alphas[k] * z + betas[k]);
      y[r] = s + noise * eps.next();
    }
    return y;
  });
  const thresholds = ys.map((y, t) => (kinds[t] === 'classification' ? median(y) : null));

  const features: FeatureInput[] = Array.from({ length: width }, (_, c) => ({
    name: `x${c}`, kind: 'numeric', values: x, offset: c, stride: width,
  }));
  const source = `synthetic(tasks=${T}, correlation=${typeof opts.correlation === 'object' ? 'matrix' : opts.correlation ?? d.correlation}, rows=${rows}, seed=${seed})`;
  const where = (i: number) => `${source} row ${i}`;
  const tasks: LabelInput[] = ys.map((y, t) => {
    const spec: TaskSpec = kinds[t] === 'classification'
      ? { name: names[t], column: names[t], loss: 'bce_with_logits', classes: ['0', '1'] }
      : { name: names[t], column: names[t], loss: 'mse' };
    const thr = thresholds[t];
    return {
      spec,
      what: `synthetic target ${JSON.stringify(names[t])}`,
      where,
      label: thr === null ? (i: number) => y[i] : (i: number) => (y[i] > thr ? '1' : '0'),
    };
  });
  const ds = datasetFromColumns({ source, rows, features, tasks }, { seed, validationFraction: fraction });
  return {
    ...ds,
    synthetic: {
      correlation: R.map((r) => r.slice()),
      weights: W.map((w) => Array.from(w)),
      alphas, betas, scale, noise, kinds, thresholds,
    },
  };
}

function correlationMatrix(c: number | number[][], T: number, what: string): number[][] {
  if (typeof c === 'number') {
    if (!(Number.isFinite(c) && c >= -1 && c <= 1)) throw new UserError(`${what}: correlation ${c} is not in [−1, 1]`);
    if (T > 2 && c < -1 / (T - 1) - 1e-12) {
      throw new UserError(
        `${what}: correlation ${c} is impossible for ${T} tasks all pairwise alike (at least −1/(tasks−1) = ${(-1 / (T - 1)).toFixed(4)}); ` +
        `give a correlation matrix for other patterns`);
    }
    return Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (i === j ? 1 : c)));
  }
  if (!Array.isArray(c) || c.length !== T || c.some((r) => !Array.isArray(r) || r.length !== T)) {
    throw new UserError(`${what}: the correlation matrix must be ${T} × ${T} (one row and column per task)`);
  }
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const v = c[i][j];
      if (!(typeof v === 'number' && Number.isFinite(v) && v >= -1 && v <= 1)) {
        throw new UserError(`${what}: correlation[${i}][${j}] = ${String(v)} is not in [−1, 1]`);
      }
      if (i === j && Math.abs(v - 1) > 1e-9) throw new UserError(`${what}: correlation[${i}][${i}] = ${v}, expected 1 on the diagonal`);
      if (Math.abs(v - c[j][i]) > 1e-9) throw new UserError(`${what}: the correlation matrix is not symmetric at [${i}][${j}]`);
    }
  }
  return c.map((r) => r.slice());
}

/** Cholesky factor of a positive semidefinite matrix (zero pivots give zero columns). */
function cholesky(R: number[][], what: string): number[][] {
  const T = R.length;
  const L = R.map(() => new Array<number>(T).fill(0));
  for (let j = 0; j < T; j++) {
    let d = R[j][j];
    for (let k = 0; k < j; k++) d -= L[j][k] ** 2;
    if (d < -1e-9) throw new UserError(`${what}: the correlation matrix is not positive semidefinite (no weight vectors have these cosines)`);
    const ljj = d > 1e-12 ? Math.sqrt(d) : 0;
    L[j][j] = ljj;
    for (let i = j + 1; i < T; i++) {
      let s = R[i][j];
      for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      if (ljj === 0) {
        if (Math.abs(s) > 1e-9) throw new UserError(`${what}: the correlation matrix is not positive semidefinite (no weight vectors have these cosines)`);
        L[i][j] = 0;
      } else {
        L[i][j] = s / ljj;
      }
    }
  }
  return L;
}

function taskKinds(k: SyntheticKind | SyntheticKind[] | undefined, T: number, what: string): SyntheticKind[] {
  const list = k === undefined ? new Array<SyntheticKind>(T).fill('regression') : typeof k === 'string' ? new Array<SyntheticKind>(T).fill(k) : k;
  if (!Array.isArray(list) || list.length !== T) throw new UserError(`${what}: ${list?.length} kinds given for ${T} tasks`);
  for (const v of list) {
    if (v !== 'regression' && v !== 'classification') {
      throw new UserError(`${what}: task kind ${JSON.stringify(v)} is not one of regression, classification`);
    }
  }
  return list.slice();
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function median(y: Float64Array): number {
  const s = Float64Array.from(y).sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
