/**
 * Gradient-conflict diagnostics, cheap because they come from the Gramian
 * G = [g_i·g_j] the step computes anyway: per-task gradient norms, pairwise cosine
 * similarities, the number of conflicting pairs (cos < 0), the strategy's task
 * weights, and the cosine between the combined update and the plain sum Σ g_i
 * (from the T dot products update·g_i: read off G when the update is Σ w_i g_i,
 * else T dot products over the vectors). Plain JSON-ready objects, for the run's
 * metrics; `formatConflict` gives the console line.
 */

import type { Kernels } from '../kernels/types.js';

export interface GradientDiagnostics {
  tasks: number;
  /** ‖g_i‖. */
  norms: number[];
  /** T×T row-major cos(g_i, g_j) (0 when either gradient is zero; diagonal 1, or 0 for a zero gradient). */
  cosines: number[];
  /** Unordered pairs i < j, and how many of them conflict (cos < 0). */
  pairs: number;
  conflicts: number;
  /** The most conflicting (lowest-cosine) pair and its cosine; null with one task. */
  worstPair: [number, number] | null;
  worstCosine: number | null;
  /** The strategy's task weights, when the update is Σ w_i g_i. */
  weights: number[] | null;
  /** update·g_i, ‖update‖, and cos(update, Σ g_i) (null when either vector is 0). Null without an update. */
  updateDots: number[] | null;
  updateNorm: number | null;
  updateCosine: number | null;
}

export interface CombinedUpdate {
  update: Float32Array;
  weights: Float64Array | null;
  /** Needed only when weights is null (update·g_i over the vectors). */
  grads?: readonly Float32Array[];
  kernels?: Kernels;
}

function worst(cosines: number[], T: number): { pair: [number, number] | null; cos: number | null; conflicts: number } {
  let pair: [number, number] | null = null;
  let cos: number | null = null;
  let conflicts = 0;
  for (let i = 0; i < T; i++) {
    for (let j = i + 1; j < T; j++) {
      const c = cosines[i * T + j];
      if (c < 0) conflicts++;
      if (cos === null || c < cos) { cos = c; pair = [i, j]; }
    }
  }
  return { pair, cos, conflicts };
}

/** Diagnostics of one step from its Gramian (T×T) and, optionally, the strategy's result. */
export function gradientDiagnostics(gram: Float64Array, tasks: number, combined?: CombinedUpdate): GradientDiagnostics {
  const T = tasks;
  const norms = Array.from({ length: T }, (_, i) => Math.sqrt(Math.max(gram[i * T + i], 0)));
  const cosines = new Array<number>(T * T).fill(0);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const d = norms[i] * norms[j];
      cosines[i * T + j] = d > 0 ? Math.max(-1, Math.min(1, gram[i * T + j] / d)) : 0;
    }
  }
  const w = worst(cosines, T);
  let updateDots: number[] | null = null;
  let updateNorm: number | null = null;
  let updateCosine: number | null = null;
  let weights: number[] | null = null;
  if (combined !== undefined) {
    if (combined.weights !== null) {
      const cw = combined.weights;
      weights = Array.from(cw);
      updateDots = Array.from({ length: T }, (_, i) => {
        let s = 0;
        for (let k = 0; k < T; k++) s += gram[i * T + k] * cw[k];
        return s;
      });
      let nn = 0;
      for (let i = 0; i < T; i++) nn += cw[i] * updateDots[i];
      updateNorm = Math.sqrt(Math.max(nn, 0));
    } else {
      const { grads, kernels } = combined;
      if (grads === undefined || kernels === undefined) {
        throw new TypeError('gradientDiagnostics: an update without weights needs the gradients and the kernels');
      }
      const n = grads[0].length;
      updateDots = grads.map((g) => kernels.dot(n, combined.update, g));
      updateNorm = kernels.norm(n, combined.update);
    }
    let sumSq = 0;
    for (let i = 0; i < T * T; i++) sumSq += gram[i];
    const sumNorm = Math.sqrt(Math.max(sumSq, 0));
    const dot = updateDots.reduce((a, b) => a + b, 0);
    updateCosine = updateNorm > 0 && sumNorm > 0 ? Math.max(-1, Math.min(1, dot / (updateNorm * sumNorm))) : null;
  }
  return {
    tasks: T, norms, cosines, pairs: T * (T - 1) / 2, conflicts: w.conflicts,
    worstPair: w.pair, worstCosine: w.cos, weights, updateDots, updateNorm, updateCosine,
  };
}

function meanOf(rows: (number[] | null)[]): number[] | null {
  const present = rows.filter((r): r is number[] => r !== null);
  if (present.length === 0) return null;
  const out = new Array<number>(present[0].length).fill(0);
  for (const r of present) for (let i = 0; i < out.length; i++) out[i] += r[i] / present.length;
  return out;
}

/**
 * The average of several steps' diagnostics (e.g. an epoch's): norms, cosines,
 * weights, update cosine averaged (nulls skipped), `conflicts` the mean count per
 * step, the worst pair taken from the averaged cosines.
 */
export function averageDiagnostics(list: readonly GradientDiagnostics[]): GradientDiagnostics {
  if (list.length === 0) throw new RangeError('averageDiagnostics: no diagnostics to average');
  const T = list[0].tasks;
  const cosines = meanOf(list.map((d) => d.cosines))!;
  const w = worst(cosines, T);
  const cos = list.map((d) => d.updateCosine).filter((c): c is number => c !== null);
  const norms = list.map((d) => d.updateNorm).filter((c): c is number => c !== null);
  return {
    tasks: T,
    norms: meanOf(list.map((d) => d.norms))!,
    cosines,
    pairs: list[0].pairs,
    conflicts: list.reduce((a, d) => a + d.conflicts, 0) / list.length,
    worstPair: w.pair,
    worstCosine: w.cos,
    weights: meanOf(list.map((d) => d.weights)),
    updateDots: meanOf(list.map((d) => d.updateDots)),
    updateNorm: norms.length === 0 ? null : norms.reduce((a, b) => a + b, 0) / norms.length,
    updateCosine: cos.length === 0 ? null : cos.reduce((a, b) => a + b, 0) / cos.length,
  };
}

/** A number with two decimals and a real minus sign ("−0.31"); "0.00" never gets a sign. */
export function formatSigned(v: number, digits = 2): string {
  const s = Math.abs(v).toFixed(digits);
  return v < 0 && Number(s) !== 0 ? `−${s}` : s;
}

/**
 * One console line: the most conflicting pair, e.g.
 * `conflict: species↔sex cos −0.31 (1 of 3 pairs); update·sum cos 0.97`, or
 * `conflict: none (least aligned species↔sex cos 0.12)`; over an epoch, the
 * mean count: `(0.5 of 1 pair per step, on average)`.
 */
export function formatConflict(d: GradientDiagnostics, taskNames: readonly string[]): string {
  const name = (i: number): string => taskNames[i] ?? `task${i}`;
  let line: string;
  if (d.worstPair === null || d.worstCosine === null) {
    line = `conflict: n/a (${d.tasks} task${d.tasks === 1 ? '' : 's'})`;
  } else {
    const [i, j] = d.worstPair;
    const pair = `${name(i)}↔${name(j)} cos ${formatSigned(d.worstCosine)}`;
    // an epoch's average: some steps' pairs conflict although the mean cosine may not be negative
    const average = !Number.isInteger(d.conflicts);
    const count = average ? d.conflicts.toFixed(1) : String(d.conflicts);
    line = d.conflicts > 0 ? `conflict: ${pair} (${count} of ${d.pairs} pair${d.pairs === 1 ? '' : 's'}${average ? ' per step, on average' : ''})`
      : `conflict: none (least aligned ${pair})`;
  }
  if (d.updateCosine !== null) line += `; update·sum cos ${formatSigned(d.updateCosine)}`;
  return line;
}
