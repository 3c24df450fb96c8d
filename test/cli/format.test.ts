import { describe, expect, it } from 'vitest';
import { placementLine, profileTable, stepLoopLine } from '../../src/cli/format.js';
import { Profile } from '../../src/trainer/profile.js';

describe('placementLine', () => {
  it('says where the jobs ran and, when auto chose, the timings it chose by', () => {
    expect(placementLine({ placement: 'workers' })).toBe('  gradient jobs computed on the worker threads');
    expect(placementLine({ placement: 'coordinator', workersMs: 0.5251, coordinatorMs: 0.1612 }))
      .toBe('  gradient jobs computed on the coordinator thread (computeOn auto: median step 0.525 ms on the workers, 0.161 ms on the coordinator)');
    expect(placementLine({ placement: 'deciding' })).toMatch(/while computeOn auto was still timing the worker threads and the coordinator thread \(the run ended before it chose\)$/);
  });
});

describe('stepLoopLine', () => {
  it('says how many steps ran back to back on the threads, and nothing when none did', () => {
    expect(stepLoopLine({ steps: 0, chunks: 0, stoppedEarly: 0 }, 90)).toBe('');
    expect(stepLoopLine({ steps: 88, chunks: 9, stoppedEarly: 0 }, 90))
      .toBe('  88 of 90 steps ran back to back on the worker threads, in 9 chunks, each thread reducing and updating its slice of the parameters');
    expect(stepLoopLine({ steps: 80, chunks: 9, stoppedEarly: 2 }, 90)).toMatch(/in 9 chunks, .*; 2 stopped early at a step the coordinator then took alone$/);
  });
});

describe('profileTable', () => {
  it('gives each part per step with its share, the overhead and the serial part', () => {
    const profile = new Profile();
    profile.add({ compute: 1.6, broadcast: 0, transport: 0.1, idle: 0.1, reduce: 0.1, combine: 0, optimizer: 0.1, total: 2 });
    profile.add({ compute: 1.6, broadcast: 0, transport: 0.1, idle: 0.1, reduce: 0.1, combine: 0, optimizer: 0.1, total: 2 });
    const text = profileTable(profile);
    expect(text).toMatch(/^profile over 2 steps \(ms per step\):/);
    expect(text).toContain('  compute        1.600   80.0%');
    expect(text).toContain('  overhead (transport + reduce + combine + optimizer): 15.0%');
    expect(text).toContain('  serial part (all but worker compute): 20.0%');
    expect(text).not.toContain('by worker thread');
  });

  it('gives each thread\'s own compute when steps ran back to back on the threads, and how far apart they are', () => {
    const profile = new Profile();
    const step = { compute: 1.5, broadcast: 0, transport: 0, idle: 0.2, reduce: 0, combine: 0, optimizer: 0.1, total: 1.8 };
    profile.add(step);
    profile.addWorkerCompute([1.2, 1.8]);
    profile.add(step);
    profile.addWorkerCompute([1.4, 1.6]);
    expect(profileTable(profile)).toContain('  compute by worker thread (steps run back to back): 1.300 / 1.700 ms; the slowest 1.31× the fastest');
    // a thread with no shard is left out of the spread
    const idleThread = new Profile();
    idleThread.add(step);
    idleThread.addWorkerCompute([1.5, 0]);
    expect(profileTable(idleThread)).toMatch(/compute by worker thread \(steps run back to back\): 1\.500 \/ 0\.000 ms$/);
  });
});
