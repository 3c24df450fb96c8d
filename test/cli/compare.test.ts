import { describe, expect, it } from 'vitest';
import { parseStrategyList } from '../../src/cli/compare.js';
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
