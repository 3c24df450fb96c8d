import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { TrainerConfig } from '../../src/trainer/config.js';
import { Trainer } from '../../src/trainer/trainer.js';
import { fixtureDataset } from '../helpers/torch-fixture.js';
import { createTrainer } from '../helpers/trainers.js';


/** The fixture's 9 rows, batches of 3; row 4's first feature is infinite. */
async function poisoned(config: TrainerConfig): Promise<Trainer> {
  const dataset = fixtureDataset();
  dataset.features[4 * dataset.inputWidth] = Infinity;
  // an infinite feature cannot come from a table (it is a parse error there): a prebuilt Dataset (internal option)
  const t = await createTrainer({
    model: { trunk: [7], activation: 'tanh' }, batchSize: 3, workers: 2,
    optimizer: { name: 'sgd', lr: 0.1 }, ...config,
  }, { dataset });
  return t;
}

describe('non-finite values', () => {
  for (const strategy of ['sum', 'sequential', 'pcgrad'] as const) {
    it(`stop (default): the run stops naming the task and step; parameters stay finite (${strategy})`, async () => {
      const t = await poisoned({ strategy });
      const err = await t.fit({ epochs: 2 }).then(() => undefined, (e: Error) => e);
      expect(err?.name).toBe('NonFiniteError');
      expect(err?.message).toMatch(/^task \w+(\+\w+)*, step \d+: (the loss is (NaN|Infinity)|the gradient is not finite)/);
      expect(t.params.data.every(Number.isFinite)).toBe(true);
    });
  }

  it('skip: the step is dropped, counted and reported; training goes on', async () => {
    const t = await poisoned({ onNonFinite: 'skip' });
    await t.fit({ epochs: 2 });
    expect(t.skippedSteps).toBe(2); // row 4 is in one batch per epoch
    expect(t.steps).toBe(6);
    expect(t.warnings.filter((w) => w.startsWith('skipped step'))).toHaveLength(2);
    expect(t.params.data.every(Number.isFinite)).toBe(true);
  });

  /** The fixture with every row's first feature infinite: every step is non-finite. */
  async function allPoisoned(config: TrainerConfig): Promise<Trainer> {
    const dataset = fixtureDataset();
    for (let r = 0; r < dataset.rows; r++) dataset.features[r * dataset.inputWidth] = Infinity;
    return createTrainer({ model: { trunk: [7], activation: 'tanh' }, batchSize: 3, workers: 2, optimizer: { name: 'sgd', lr: 0.1 }, ...config }, { dataset });
  }

  for (const [maxSkips, label] of [[undefined, 'default 10'], [3, '3'], [0, '0: as stop']] as const) {
    it(`skip gives up after maxSkips steps skipped in a row (${label}) with the message of stop`, async () => {
      const t = await allPoisoned({ onNonFinite: 'skip', ...(maxSkips === undefined ? {} : { maxSkips }) });
      const limit = maxSkips ?? 10;
      const err = await t.fit({ epochs: 20 }).then(() => undefined, (e: Error) => e);
      expect(err?.name).toBe('NonFiniteError');
      expect(err?.message).toMatch(new RegExp(`^task \\w+(\\+\\w+)*, step ${limit}: (the loss is (NaN|Infinity)|the gradient is not finite).*; ${limit} steps in a row were skipped already \\(--max-skips ${limit}\\)$`));
      expect(err?.message).not.toContain('\n');
      expect(t.skippedSteps).toBe(limit);
      expect(t.steps).toBe(limit);
      expect(t.params.data.every(Number.isFinite)).toBe(true);
    });
  }

  it('skip: a step applied resets the count of steps skipped in a row', async () => {
    const t = await poisoned({ onNonFinite: 'skip', maxSkips: 1 });
    await t.fit({ epochs: 4 }); // one poisoned batch per epoch, never two in a row
    expect(t.skippedSteps).toBe(4);
  });
});

describe('gradient clipping', () => {
  for (const per of ['global', 'task'] as const) {
    it(`bounds the step (${per}): with SGD, ‖Δθ‖ ≤ lr · T · max`, async () => {
      const t = await createTrainer({
        model: { trunk: [7], activation: 'tanh' }, batchSize: 9, workers: 2,
        optimizer: { name: 'sgd', lr: 1 }, clipGradNorm: 1e-3, clipPer: per,
      }, { dataset: fixtureDataset() });
      const before = t.params.data.slice();
      await t.step();
      const delta = Math.hypot(...t.params.data.map((x, i) => x - before[i]));
      expect(delta).toBeGreaterThan(1e-4);
      expect(delta).toBeLessThanOrEqual(1e-3 * (per === 'task' ? 3 : 1) * 1.0001);
    });
  }
});

describe('clean shutdown', () => {
  it('a script that trains and closes exits by itself, leaving no threads or handles', () => {
    const script = `
      import { Trainer } from ${JSON.stringify(new URL('../../dist/src/index.js', import.meta.url).href)};
      const t = await Trainer.create({ workers: 2 });
      await t.fit({ epochs: 1 });
      await t.close();
      console.log('closed');`;
    const started = Date.now();
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stdout.trim(), run.stderr).toBe('closed');
    expect(run.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
