import { describe, expect, it } from 'vitest';
import { EpochSampler } from '../../src/data/sampler.js';

const TRAIN = Int32Array.from({ length: 23 }, (_, i) => i * 3 + 1); // non-contiguous row ids

function epochOf(s: EpochSampler, epoch: number): number[][] {
  const out = new Int32Array(s.batchSize);
  const batches: number[][] = [];
  for (let b = 0; b < s.batchesPerEpoch; b++) {
    const n = s.batch(epoch, b, out);
    batches.push(Array.from(out.subarray(0, n)));
  }
  return batches;
}

describe('EpochSampler', () => {
  it('counts batches; the last is smaller', () => {
    const s = new EpochSampler(TRAIN, 5, 1);
    expect(s.batchesPerEpoch).toBe(5);
    const sizes = epochOf(s, 0).map((b) => b.length);
    expect(sizes).toEqual([5, 5, 5, 5, 3]);
    expect(new EpochSampler(TRAIN, 23, 1).batchesPerEpoch).toBe(1);
    expect(new EpochSampler(TRAIN, 100, 1).batchesPerEpoch).toBe(1);
    expect(new EpochSampler([], 4, 1).batchesPerEpoch).toBe(0);
  });

  it('covers every training row exactly once per epoch', () => {
    const s = new EpochSampler(TRAIN, 4, 9);
    for (const epoch of [0, 1, 2, 17]) {
      const rows = epochOf(s, epoch).flat().sort((a, b) => a - b);
      expect(rows).toEqual(Array.from(TRAIN));
    }
  });

  it('shuffles differently each epoch and not in the identity order', () => {
    const s = new EpochSampler(TRAIN, 4, 9);
    const e0 = epochOf(s, 0).flat();
    const e1 = epochOf(s, 1).flat();
    expect(e0).not.toEqual(e1);
    expect(e0).not.toEqual(Array.from(TRAIN));
  });

  it('is a pure function of (seed, epoch, index): same seed same batches, any call order', () => {
    const a = new EpochSampler(TRAIN, 4, 9);
    const b = new EpochSampler(TRAIN, 4, 9);
    const expected = epochOf(a, 3);
    // b: interleave epochs and go backwards (a resumed run)
    const out = new Int32Array(4);
    for (let i = b.batchesPerEpoch - 1; i >= 0; i--) {
      b.batch(0, 0, out);
      const n = b.batch(3, i, out);
      expect(Array.from(out.subarray(0, n))).toEqual(expected[i]);
    }
    expect(epochOf(new EpochSampler(TRAIN, 4, 10), 3)).not.toEqual(expected);
  });

  it('rejects bad arguments', () => {
    const s = new EpochSampler(TRAIN, 5, 1);
    expect(() => s.batch(0, 5, new Int32Array(5))).toThrow(RangeError);
    expect(() => s.batch(-1, 0, new Int32Array(5))).toThrow(RangeError);
    expect(() => s.batch(0, 0, new Int32Array(4))).toThrow(/output holds 4/);
    expect(s.batch(0, 4, new Int32Array(3))).toBe(3);
    expect(() => new EpochSampler(TRAIN, 0, 1)).toThrow(RangeError);
  });
});
