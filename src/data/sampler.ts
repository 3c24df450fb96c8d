/**
 * Mini-batches over an epoch, as a pure function of (seed, epoch, batch index):
 * epoch e visits the training rows in the order of a permutation drawn from
 * `new Rng(seed, SAMPLER_STREAM, e)`, cut into consecutive batches of `batchSize`
 * (the last may be smaller). No state carries from one call to the next, so a run
 * resumed at (epoch, index) sees exactly the batches it would have seen.
 */
import { Rng } from '../util/rng.js';

/** Stream id of the sampler's Rng: `new Rng(seed, SAMPLER_STREAM, epoch)`. */
export const SAMPLER_STREAM = 0xba7c;

export class EpochSampler {
  readonly size: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly batchesPerEpoch: number;
  private readonly rows: Int32Array;
  // Memo of the last epoch's permutation (a cache: results do not depend on it).
  private permEpoch = -1;
  private readonly perm: Int32Array;

  /** `rows`: the row indices to sample (e.g. Dataset.train); copied. */
  constructor(rows: ArrayLike<number>, batchSize: number, seed: number) {
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`EpochSampler: batch size must be a positive integer, got ${batchSize}`);
    }
    if (!Number.isSafeInteger(seed)) throw new RangeError(`EpochSampler: seed must be an integer, got ${seed}`);
    this.rows = Int32Array.from(rows as ArrayLike<number>);
    this.size = this.rows.length;
    this.batchSize = batchSize;
    this.seed = seed;
    this.batchesPerEpoch = Math.ceil(this.size / batchSize);
    this.perm = new Int32Array(this.size);
  }

  /** Size of batch `index` (of any epoch). */
  batchLength(index: number): number {
    this.checkIndex(index);
    return Math.min(this.batchSize, this.size - index * this.batchSize);
  }

  /**
   * Writes the row indices of batch `index` of epoch `epoch` into out[0..size)
   * and returns that size (batchSize, or less for the last batch).
   */
  batch(epoch: number, index: number, out: Int32Array): number {
    const len = this.batchLength(index);
    if (out.length < len) throw new RangeError(`EpochSampler: output holds ${out.length} indices, batch ${index} has ${len}`);
    const perm = this.permutation(epoch);
    const start = index * this.batchSize;
    out.set(perm.subarray(start, start + len));
    return len;
  }

  /** The order in which epoch `epoch` visits the rows (a view; do not modify). */
  permutation(epoch: number): Int32Array {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`EpochSampler: epoch must be a non-negative integer, got ${epoch}`);
    if (this.permEpoch !== epoch) {
      this.perm.set(this.rows);
      new Rng(this.seed, SAMPLER_STREAM, epoch).shuffle(this.perm);
      this.permEpoch = epoch;
    }
    return this.perm;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) {
      throw new RangeError(`EpochSampler: batch index ${index} is not in [0, ${this.batchesPerEpoch})`);
    }
  }
}
