import { describe, expect, it } from 'vitest';
import { splitRows } from '../../src/data/split.js';

describe('splitRows', () => {
  it('rounds, keeps at least one validation row and at least one training row', () => {
    expect(splitRows(100, 0.2, 0).validation.length).toBe(20);
    expect(splitRows(10, 0.01, 0).validation.length).toBe(1);
    expect(splitRows(10, 0, 0).validation.length).toBe(0);
    expect(splitRows(10, 0.99, 0).train.length).toBe(1);
    expect(splitRows(1, 0.5, 0)).toEqual({ train: Int32Array.of(0), validation: new Int32Array(0) });
  });
});
