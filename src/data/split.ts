/**
 * The train/validation split: a seeded shuffle, the first round(rows·fraction) rows to
 * validation, the rest to train; and which of a split's rows label a task.
 */
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { TaskData } from './dataset.js';

/** Stream id of the split's Rng: `new Rng(seed, SPLIT_STREAM)`. */
export const SPLIT_STREAM = 0x5917;
export const DEFAULT_VALIDATION_FRACTION = 0.2;

/** The split options every dataset builder takes. */
export interface SplitOptions {
  /** Fraction of rows held out for validation, in [0, 1) (default 0.2). */
  validationFraction?: number;
  /** Seed of the train/validation split (default 0). */
  seed?: number;
}

/** Checks the split options (UserError otherwise) and fills in the defaults. */
export function checkSplitOptions(opts: SplitOptions): { fraction: number; seed: number } {
  const fraction = opts.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
  if (!(typeof fraction === 'number' && fraction >= 0 && fraction < 1)) {
    throw new UserError(`validation fraction ${fraction} is not in [0, 1) (e.g. 0.2 holds out 20% of the rows)`);
  }
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new UserError(`seed ${seed} is not an integer`);
  return { fraction, seed };
}

/**
 * The seeded split: shuffle 0..n−1 with `new Rng(seed, SPLIT_STREAM)`, the first
 * round(n·fraction) (at least 1 when n ≥ 2 and fraction > 0, at most n − 1) to
 * validation, the rest to train, each sorted ascending.
 */
export function splitRows(n: number, fraction: number, seed: number): { train: Int32Array; validation: Int32Array } {
  return splitWith(n, fraction, new Rng(seed, SPLIT_STREAM));
}

/** splitRows with a given Rng (task-parts.ts splits each part with its own stream). */
export function splitWith(n: number, fraction: number, rng: Rng): { train: Int32Array; validation: Int32Array } {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  rng.shuffle(order);
  let nVal = Math.round(n * fraction);
  if (fraction > 0 && n >= 2) nVal = Math.max(1, nVal);
  nVal = Math.max(0, Math.min(nVal, n - 1));
  return { validation: order.slice(0, nVal).sort(), train: order.slice(nVal).sort() };
}

/** Row indices (from `indices`) where the task has a label. */
export function labelledIndices(task: TaskData, indices: ArrayLike<number>): Int32Array {
  let count = 0;
  for (let k = 0; k < indices.length; k++) if (!Number.isNaN(task.targets[indices[k]])) count++;
  const out = new Int32Array(count);
  let j = 0;
  for (let k = 0; k < indices.length; k++) if (!Number.isNaN(task.targets[indices[k]])) out[j++] = indices[k];
  return out;
}
