import { describe, expect, it } from 'vitest';
import { placementLine } from '../../src/cli/format.js';

describe('placementLine', () => {
  it('says where the jobs ran and, when auto chose, the timings it chose by', () => {
    expect(placementLine({ placement: 'workers' })).toBe('  gradient jobs computed on the worker threads');
    expect(placementLine({ placement: 'coordinator', workersMs: 0.5251, coordinatorMs: 0.1612 }))
      .toBe('  gradient jobs computed on the coordinator thread (computeOn auto: median round 0.525 ms on the workers, 0.161 ms on the coordinator)');
    expect(placementLine({ placement: 'deciding' })).toMatch(/on the worker threads and the coordinator thread in turn \(computeOn auto: the run ended before both sides were timed\)$/);
  });
});
