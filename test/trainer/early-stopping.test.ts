/** Early stopping: what improves, when it stops, the best weights, and its state across a resume. */
import { describe, expect, it } from 'vitest';
import { EarlyStopping, parseEarlyStopping } from '../../src/trainer/early-stopping.js';
import type { TaskMetricsByName } from '../../src/trainer/metrics.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';
import { userErrorMessage as message } from '../helpers/user-error.js';

const TASKS = [{ name: 'species', metric: 'accuracy' as const }, { name: 'mass', metric: 'rmse' as const }];
const epochOf = (acc: number, rmse: number, loss = 1): TaskMetricsByName => ({
  species: { loss, metric: acc, metricName: 'accuracy', labelled: 10 },
  mass: { loss, metric: rmse, metricName: 'rmse', labelled: 10 },
});
const params = (x: number) => Float32Array.from([x, x]);

describe('EarlyStopping', () => {
  it('accuracy: higher is better; stops after `patience` epochs without improving; keeps the best parameters', () => {
    const es = new EarlyStopping({ on: 'species:accuracy', patience: 2 }, TASKS);
    expect(es.update(0, epochOf(0.5, 9), params(0))).toMatchObject({ improved: true, stop: false });
    expect(es.update(1, epochOf(0.8, 9), params(1))).toMatchObject({ improved: true, stop: false, best: 0.8, bestEpoch: 1 });
    expect(es.update(2, epochOf(0.8, 1), params(2))).toMatchObject({ improved: false, stop: false });
    expect(es.update(3, epochOf(0.7, 1), params(3))).toMatchObject({ improved: false, stop: true, bestEpoch: 1 });
    expect(Array.from(es.state.bestParams!)).toEqual([1, 1]);
  });

  it('rmse and loss: lower is better; NaN never improves', () => {
    const es = new EarlyStopping({ on: 'mass:rmse', patience: 1 }, TASKS);
    es.update(0, epochOf(0, 10), params(0));
    expect(es.update(1, epochOf(0, 8), params(1)).improved).toBe(true);
    expect(es.update(2, epochOf(0, NaN), params(2))).toMatchObject({ improved: false, stop: true });
    const byLoss = new EarlyStopping({ on: 'species:loss', patience: 3 }, TASKS);
    byLoss.update(0, epochOf(0, 0, 2), params(0));
    expect(byLoss.update(1, epochOf(0, 0, 1.5), params(1)).improved).toBe(true);
  });

  it('mean: the mean signed relative change of every task\'s metric since the first epoch', () => {
    const es = new EarlyStopping({ on: 'mean', patience: 1 }, TASKS);
    es.update(0, epochOf(0.5, 10), params(0));
    // species +20% relative, mass 10 → 11 (−10%): mean +5% → improves
    expect(es.update(1, epochOf(0.6, 11), params(1))).toMatchObject({ improved: true, best: expect.closeTo(0.05, 12) });
    // species +10%, mass −20%: −5% → worse
    expect(es.update(2, epochOf(0.55, 12), params(2))).toMatchObject({ improved: false, stop: true });
  });

  it('names what it cannot watch', () => {
    expect(message(() => new EarlyStopping({ on: 'speces:accuracy', patience: 1 }, TASKS))).toMatch(/^earlyStopping\.on: "speces:accuracy" is not <task>:<metric> with a task of species, mass/);
    expect(message(() => new EarlyStopping({ on: 'mass:accuracy', patience: 1 }, TASKS))).toBe('earlyStopping.on: task mass reports loss and rmse, not "accuracy"');
    expect(parseEarlyStopping('species:accuracy:7')).toEqual({ on: 'species:accuracy', patience: 7 });
    expect(parseEarlyStopping('mean')).toEqual({ on: 'mean', patience: 5 });
    expect(message(() => parseEarlyStopping('species'))).toMatch(/^--early-stopping: "species" is not <task>:<metric>\[:patience\] or mean\[:patience\]/);
  });
});

describe('Trainer with early stopping', () => {
  const config = { seed: 2, workers: 1, epochs: 60, earlyStopping: { on: 'sex:loss', patience: 2 }, optimizer: { lr: 0.05 } };

  it('stops before its epochs, and model("best") holds the best epoch\'s parameters', async () => {
    const trainer = await createTrainer(config);
    const seen: Float32Array[] = [];
    const reports = await trainer.fit({ onEpoch: () => { seen.push(trainer.params.data.slice()); } });
    expect(trainer.earlyStopped).toBe(true);
    expect(reports.length).toBeLessThan(60);
    const last = reports.at(-1)!.earlyStopping!;
    expect(last.stop).toBe(true);
    expect(reports.length - 1 - last.bestEpoch).toBe(2);
    expect(sameBits(trainer.model('best').data, seen[last.bestEpoch])).toBe(true);
    expect(sameBits(trainer.model().data, trainer.params.data)).toBe(true);
  });

  it('a checkpoint keeps its state: stopped and resumed, it stops at the same epoch with the same best weights', async () => {
    const whole = await createTrainer(config);
    const reports = await whole.fit();
    const first = await createTrainer(config);
    await first.fit({ epochs: 2 });
    const snapshot = first.snapshot();
    const resumed = await createTrainer(config);
    resumed.restore(snapshot);
    const rest = await resumed.fit();
    expect(2 + rest.length).toBe(reports.length);
    expect(resumed.earlyStopping!.state.bestEpoch).toBe(whole.earlyStopping!.state.bestEpoch);
    expect(sameBits(resumed.model('best').data, whole.model('best').data)).toBe(true);
  });
});
