import { describe, expect, it } from 'vitest';
import { deltaM, parseStrategyList, signed } from '../../src/cli/compare.js';
import { guessColumn } from '../../src/cli/init.js';

describe('compare helpers', () => {
  it('parses strategy lists: modes, options, labels', () => {
    expect(parseStrategyList('sum, sequential, sequential:stale,cagrad:c=0.2')).toEqual([
      { label: 'sum', strategy: 'sum' },
      { label: 'sequential-fresh', strategy: 'sequential', sequentialMode: 'fresh' },
      { label: 'sequential-stale', strategy: 'sequential', sequentialMode: 'stale' },
      { label: 'cagrad-c=0.2', strategy: 'cagrad', options: { c: '0.2' } },
    ]);
    expect(parseStrategyList('sequential stale')[0]).toMatchObject({ label: 'sequential-stale', sequentialMode: 'stale' });
    expect(() => parseStrategyList('pcgrad:stale')).toThrow(/"stale" is a mode of sequential/);
    expect(() => parseStrategyList('sum,sum')).toThrow(/sum is listed twice/);
    expect(() => parseStrategyList(' , ')).toThrow(/no strategy given/);
  });

  it('Δm%: mean signed relative change against the baseline (higher accuracy, lower RMSE = better)', () => {
    const names = { acc: 'accuracy', rmse: 'rmse' } as const;
    const base = { metrics: { acc: 0.8, rmse: 200 } };
    // accuracy +10% (0.88 vs 0.8), RMSE 10% lower (180 vs 200): both +10 → +10
    expect(deltaM({ metrics: { acc: 0.88, rmse: 180 }, metricNames: names }, base)).toBeCloseTo(10, 12);
    // accuracy −5%, RMSE 25% higher: (−5 − 25) / 2
    expect(deltaM({ metrics: { acc: 0.76, rmse: 250 }, metricNames: names }, base)).toBeCloseTo(-15, 12);
    expect(deltaM({ metrics: { acc: 0.8, rmse: 200 }, metricNames: names }, base)).toBe(0);
    // a task with no finite metric or a zero baseline is left out
    expect(deltaM({ metrics: { acc: null, rmse: 100 }, metricNames: names }, base)).toBeCloseTo(50, 12);
    expect(deltaM({ metrics: { acc: null, rmse: null }, metricNames: names }, base)).toBeNull();
  });
});

describe('init: guessing a column\'s role', () => {
  it.each([
    [['a', 'b', 'a', null], 'classification', 'text with 2 distinct values'],
    [[0, 1, 1, 0, '1'], 'classification', 'integers with 2 distinct values'],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'feature', 'integers with 11 distinct values'],
    [[0.5, 1.25, 3], 'feature', 'numbers with 3 distinct values'],
    [Array.from({ length: 30 }, (_, i) => `id${i}`), 'ignored', 'text with 30 distinct values (an ID or free text?)'],
    [[4, 4, 4], 'ignored', 'a constant'],
    [[null, null], 'ignored', 'every value is missing'],
  ] as const)('%j → %s', (cells, role, why) => {
    const g = guessColumn('c', cells);
    expect(g.role).toBe(role);
    expect(g.why).toBe(why);
  });
});

describe('Δm% formatting', () => {
  it('a value that rounds to zero has no sign (never "−0.0")', () => {
    expect(signed(-0.04)).toBe('0.0');
    expect(signed(0.04)).toBe('0.0');
    expect(signed(-0.06)).toBe('−0.1');
    expect(signed(1.25)).toBe('+1.3');
    expect(signed(null)).toBe('—');
  });
});
