import { describe, expect, it } from 'vitest';
import { intersect, SLICE_ALIGN, sliceSegments } from '../../src/optim/slices.js';

const segments = [{ offset: 0, length: 1000 }, { offset: 1200, length: 77 }, { offset: 1300, length: 5000 }];

describe('sliceSegments', () => {
  for (const parts of [1, 2, 3, 4, 7]) {
    it(`${parts} slice(s) cover every element once, in state order, cut on ${SLICE_ALIGN}-element blocks of their segment`, () => {
      const slices = sliceSegments(segments, parts);
      expect(slices).toHaveLength(parts);
      const pieces = slices.flat();
      // back to back in state order, covering each segment exactly
      let state = 0;
      for (const p of pieces) {
        expect(p.stateOffset).toBe(state);
        state += p.length;
      }
      expect(state).toBe(6077);
      for (const s of segments) {
        const inside = pieces.filter((p) => p.offset >= s.offset && p.offset < s.offset + s.length);
        expect(inside.reduce((n, p) => n + p.length, 0)).toBe(s.length);
        // a piece starts at its segment's start or on a block boundary of it
        for (const p of inside) expect((p.offset - s.offset) % SLICE_ALIGN).toBe(0);
      }
      // balanced to within a block per cut
      const sizes = slices.map((sl) => sl.reduce((n, p) => n + p.length, 0));
      for (const size of sizes) expect(Math.abs(size - 6077 / parts)).toBeLessThanOrEqual(2 * SLICE_ALIGN);
    });
  }

  it('more slices than blocks leaves some empty', () => {
    // targets 25, 50, 75 round down to 0, 0, 64
    const slices = sliceSegments([{ offset: 10, length: 100 }], 4);
    expect(slices.map((sl) => sl.reduce((n, p) => n + p.length, 0))).toEqual([0, 0, 64, 36]);
    expect(slices[3]).toEqual([{ offset: 74, length: 36, stateOffset: 64 }]);
  });

  it('refuses a slice count that is not a positive integer', () => {
    expect(() => sliceSegments(segments, 0)).toThrow(/0 slices/);
  });
});

describe('intersect', () => {
  it('gives the parts of the pieces inside the segments, in piece then segment order', () => {
    const pieces = [{ offset: 0, length: 100 }, { offset: 150, length: 100 }];
    const segments = [{ offset: 50, length: 30 }, { offset: 90, length: 100 }];
    expect(intersect(pieces, segments)).toEqual([
      { offset: 50, length: 30 }, { offset: 90, length: 10 }, { offset: 150, length: 40 },
    ]);
    expect(intersect(pieces, [{ offset: 100, length: 50 }])).toEqual([]);
  });
});
