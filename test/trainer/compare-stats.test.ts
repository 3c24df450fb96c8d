import { describe, expect, it } from 'vitest';
import { aggregateSeeds, applyDeltaM, compareRow, conflictsCell, deltaM, seedDeltaMCell, signed, type CompareRow } from '../../src/trainer/compare-stats.js';

describe('Δm%', () => {
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

  it('is taken against the baseline of the same seed; over seeds, * only beyond twice the standard error', () => {
    const summary = (acc: number) => ({ name: 'x', strategy: 'x', steps: 10, seconds: 1, stepsPerSecond: 10, meanConflicts: 0.5,
      tasks: [{ name: 'a', metricName: 'accuracy' as const, bestValidation: acc, finalValidation: acc }] });
    const rows: CompareRow[] = [
      { ...compareRow('sum', 's0', summary(0.8), 2), seed: 0 }, { ...compareRow('pcgrad', 'p0', summary(0.84), 2), seed: 0 },
      { ...compareRow('sum', 's1', summary(0.5), 2), seed: 1 }, { ...compareRow('pcgrad', 'p1', summary(0.52), 2), seed: 1 },
    ];
    expect(applyDeltaM(rows)).toBe('sum');
    expect(rows.map((r) => r.deltaM)).toEqual([0, expect.closeTo(5, 12), 0, expect.closeTo(4, 12)]);
    const [sum, pcgrad] = aggregateSeeds(rows);
    expect(pcgrad.deltaM).toMatchObject({ mean: expect.closeTo(4.5, 12), std: expect.closeTo(Math.SQRT1_2, 12), n: 2 });
    // |4.5| > 2·0.707/√2 = 1
    expect(seedDeltaMCell(pcgrad)).toBe('+4.5 ± 0.7 *');
    expect(seedDeltaMCell(sum)).toBe('0.0 ± 0.0');
    expect(conflictsCell(rows[1].meanConflicts)).toBe('0.50');
    expect(conflictsCell(null)).toBe('—');
    // without a sum run, the first run is the baseline
    const noSum = rows.filter((r) => r.label === 'pcgrad').map((r) => ({ ...r }));
    expect(applyDeltaM(noSum)).toBe('pcgrad');
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
