import { describe, expect, it } from 'vitest';
import { LOSS_STATS_LENGTH } from '../../src/kernels/types.js';
import { LossTotals } from '../../src/trainer/metrics.js';
import { fixtureDataset } from '../helpers/torch-fixture.js';

const tasks = fixtureDataset().tasks; // species (cross_entropy), sex (bce_with_logits), mass (mse)

describe('LossTotals', () => {
  it('divides the loss by the weight sum and the metric by the labelled count', () => {
    const totals = new LossTotals(tasks);
    // species: Σ w·ℓ = 6 over Σ w = 4 (class weights), 5 of 8 rows right
    totals.add(0, [6, 8, 5, 4]);
    totals.add(1, [0, 0, 9, 9, 3, 3, 1, 3], 4); // from an offset: sex's statistics in a frame of two tasks
    const summary = totals.summary();
    expect(summary.species).toMatchObject({ loss: 1.5, metric: 5 / 8, labelled: 8 });
    expect(summary.sex).toMatchObject({ loss: 1, metric: 1 / 3, labelled: 3 });
    expect(totals.means()).toEqual({ species: 1.5, sex: 1, mass: NaN });
  });

  it('a zero weight sum gives NaN, as PyTorch\'s 0/0 does', () => {
    const totals = new LossTotals(tasks);
    totals.add(0, [0, 2, 1, 0]);
    expect(totals.summary().species.loss).toBeNaN();
    expect(totals.summary().species.metric).toBe(0.5);
  });

  it('loads saved sums, also a checkpoint\'s of three values per task (weight = count)', () => {
    const totals = new LossTotals(tasks);
    expect(totals.load(Float64Array.from({ length: tasks.length * LOSS_STATS_LENGTH }, (_, i) => i + 1))).toBe(true);
    expect(totals.sums[3]).toBe(4);
    expect(totals.load(Float64Array.of(3, 2, 1, 6, 4, 2, 0, 0, 0))).toBe(true);
    expect(Array.from(totals.sums)).toEqual([3, 2, 1, 2, 6, 4, 2, 4, 0, 0, 0, 0]);
    expect(totals.means()).toEqual({ species: 1.5, sex: 1.5, mass: NaN });
    expect(totals.load(new Float64Array(5))).toBe(false);
  });
});
