import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import { parseClassWeights, resolveClassWeights, type ClassWeightSetting } from '../../src/trainer/class-weights.js';
import { resolveConfig, storedConfig, type TrainerConfig } from '../../src/trainer/config.js';
import type { Trainer } from '../../src/trainer/trainer.js';
import { expectClose, fixture, fixtureDataset, rows } from '../helpers/torch-fixture.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';
import { userErrorMessage } from '../helpers/user-error.js';

type Named = Record<string, number[]>;
/** PyTorch's weighted losses on the multitask-grad.json model (scripts/torch-reference/class_weights.py). */
const torch = JSON.parse(readFileSync(new URL('../fixtures/torch/class-weights.json', import.meta.url), 'utf8')) as {
  model: {
    weights: Record<'species' | 'sex', number[]>;
    losses: Record<'species' | 'sex', number>;
    taskGrads: Record<'species' | 'sex', Named>;
    balanced: Record<'species' | 'sex', number[]>;
    balancedLosses: Record<'species' | 'sex', number>;
  };
};

/** The fixture's model on its 9 rows, one batch of all rows per step, from the fixture's parameters. */
async function fixtureTrainer(config: TrainerConfig, dataset: Dataset = fixtureDataset()): Promise<Trainer> {
  const trainer = await createTrainer({
    model: { trunk: fixture.model.trunk.map((l) => ({ units: l.out, activation: l.activation })), heads: { sex: { hidden: { units: 4, activation: 'gelu' } } } },
    batchSize: rows,
    workers: 2,
    ...config,
  }, { dataset });
  trainer.loadParameters(fixture.parameters);
  return trainer;
}

/** Σ_t w_t · g_t by parameter name (each g_t covers the trunk and its own head). */
function weightedSum(terms: [number, Named][]): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const [w, grads] of terms) {
    for (const [name, g] of Object.entries(grads)) {
      const acc = (out[name] ??= new Float64Array(g.length));
      g.forEach((v, i) => { acc[i] += w * v; });
    }
  }
  return out;
}

describe('one SGD step with class weights matches PyTorch (CrossEntropyLoss(weight), BCEWithLogitsLoss(pos_weight))', () => {
  const lr = 0.1;
  // θ − lr·Σ_t w_t·∂L_t: species and sex weighted (class-weights.json), mass as before (multitask-grad.json)
  const step = weightedSum([
    [fixture.lossWeights.species, torch.model.taskGrads.species],
    [fixture.lossWeights.sex, torch.model.taskGrads.sex],
    [fixture.lossWeights.mass, fixture.float64.taskGrads.mass],
  ]);
  const expected: Named = Object.fromEntries(Object.entries(fixture.parameters).map(([name, p]) => [name, p.map((v, i) => v - lr * step[name][i])]));

  for (const plan of ['fused', 'per-task'] as const) {
    // 3 shards of 3 rows: the weighted mean divides by the whole batch's Σ w, not each shard's
    for (const shards of [1, 3]) {
      it(`${plan} plan, ${shards} shard(s): parameters and the step's reported losses`, async () => {
        const trainer = await fixtureTrainer({
          plan, shards, taskWeights: fixture.lossWeights, optimizer: { name: 'sgd', lr }, classWeights: torch.model.weights,
        });
        await trainer.step();
        expectClose(trainer.parameters(), expected, 1e-4, 1e-6);
        expect(trainer.lastStep.losses.species).toBeCloseTo(torch.model.losses.species, 5);
        expect(trainer.lastStep.losses.sex).toBeCloseTo(torch.model.losses.sex, 5);
        expect(trainer.lastStep.losses.mass).toBeCloseTo(fixture.float64.losses.mass, 5);
      });
    }
  }
});

describe('"balanced"', () => {
  it('is n / (classes · n_class) on the training rows (pos_weight n_neg / n_pos), and the losses are PyTorch\'s with those weights', async () => {
    const trainer = await fixtureTrainer({ classWeights: { species: 'balanced', sex: 'balanced' } });
    const resolved = trainer.config.classWeights as Named;
    expect(resolved.species.map((w, i) => w - torch.model.balanced.species[i]).every((d) => Math.abs(d) < 1e-15)).toBe(true);
    expect(resolved.sex).toEqual(torch.model.balanced.sex);
    expect(trainer.spec.tasks.map((t) => t.classWeights)).toEqual([resolved.species, resolved.sex, undefined]);
    const train = trainer.evaluate('train');
    expect(train.species.loss).toBeCloseTo(torch.model.balancedLosses.species, 5);
    expect(train.sex.loss).toBeCloseTo(torch.model.balancedLosses.sex, 5);
    // count and accuracy stay unweighted
    expect(train.species.labelled).toBe(rows);
  });

  it('counts the training split only', () => {
    const dataset = fixtureDataset();
    // rows 0..4 train: species labels 1, 2, 0, 1, 2 → n = 5, one of class 0 and two each of 1 and 2
    dataset.train = Int32Array.of(0, 1, 2, 3, 4);
    dataset.validation = Int32Array.of(5, 6, 7, 8);
    expect(resolveClassWeights({ species: 'balanced' }, dataset)).toEqual({ species: [5 / 3, 5 / 6, 5 / 6] });
  });

  it('a run directory keeps the numbers: a trainer from the stored config has the same weights and settings hash', async () => {
    const first = await fixtureTrainer({ classWeights: { species: 'balanced', sex: 'balanced' }, seed: 4 });
    const stored = storedConfig(first.config);
    expect(stored.classWeights).toEqual(first.config.classWeights);
    expect(JSON.stringify(stored.classWeights)).not.toContain('balanced');
    // resumed on other data, the stored numbers stay: nothing is recomputed
    const other = fixtureDataset();
    other.train = Int32Array.of(0, 1, 2, 3, 4, 5, 6);
    const again = await fixtureTrainer(stored, other);
    expect(again.config.classWeights).toEqual(first.config.classWeights);
    const resumed = await fixtureTrainer(stored);
    expect(resumed.configHash).toBe(first.configHash);
    await first.step();
    expect(() => resumed.restore(first.snapshot())).not.toThrow();
  });
});

describe('determinism with class weights', () => {
  it('the same seed gives bit-identical parameters with 1 and 2 workers, and on the coordinator thread', async () => {
    const results: Float32Array[] = [];
    for (const [workers, computeOn] of [[1, 'workers'], [2, 'workers'], [1, 'coordinator']] as const) {
      const trainer = await createTrainer({
        workers, computeOn, seed: 3, batchSize: 64, shards: 2, model: { trunk: [16], activation: 'relu' },
        classWeights: { species: 'balanced', sex: [1.5] },
      });
      await trainer.fit({ epochs: 1 });
      results.push(trainer.params.data.slice());
      await trainer.close();
    }
    expect(sameBits(results[0], results[1])).toBe(true);
    expect(sameBits(results[0], results[2])).toBe(true);
  });
});

describe('settings resolved against the tasks', () => {
  const resolve = (settings: Record<string, ClassWeightSetting>, dataset = fixtureDataset()) => resolveClassWeights(settings, dataset);

  it('lists, class: weight objects (others 1) and a binary task\'s positive class', () => {
    expect(resolve({ species: [0.5, 2, 1.25], sex: [2.5] })).toEqual({ species: [0.5, 2, 1.25], sex: [2.5] });
    expect(resolve({ species: { c: 3 }, sex: { yes: 0.25 } })).toEqual({ species: [1, 1, 3], sex: [0.25] });
    expect(resolve({})).toEqual({});
  });

  it.each([
    ['an unknown task', { smoker: 'balanced' }, 'classWeights.smoker: unknown task "smoker" (tasks: species, sex, mass)'],
    ['a regression task', { mass: [2] }, 'classWeights.mass: task "mass" has loss mse, a regression loss; class weights are for cross_entropy, bce_with_logits and bce'],
    ['too few weights', { species: [1, 2] }, 'classWeights.species: 2 weights given, task "species" takes one weight per class (a, b, c)'],
    ['too many weights', { species: [1, 2, 3, 4] }, 'classWeights.species: 4 weights given, task "species" takes one weight per class (a, b, c)'],
    ['two weights for a binary task', { sex: [1, 2] }, 'classWeights.sex: 2 weights given, task "sex" takes one weight, pos_weight of the positive class "yes" (bce_with_logits)'],
    ['an unknown class', { species: { d: 2 } }, 'classWeights.species: unknown class "d" (classes: a, b, c)'],
    ['a binary task\'s negative class', { sex: { no: 2 } }, 'classWeights.sex: class "no" is the negative class; task "sex" takes one weight, pos_weight of the positive class "yes" (bce_with_logits)'],
    ['only zeros', { species: [0, 0, 0] }, 'classWeights.species: every weight is 0, so the task would not train; give at least one weight > 0'],
    ['a negative weight (API, past the schema)', { species: [1, -1, 1] }, 'classWeights.species: -1 is not a finite number ≥ 0'],
    ['a non-finite weight (API, past the schema)', { sex: [Infinity] }, 'classWeights.sex: Infinity is not a finite number ≥ 0'],
  ] as [string, Record<string, ClassWeightSetting>, string][])('%s is a UserError', (_, settings, message) => {
    expect(userErrorMessage(() => resolve(settings))).toBe(message);
  });

  it('"balanced" with a class missing from the training rows is a UserError', () => {
    const dataset = fixtureDataset();
    dataset.train = Int32Array.of(0, 1, 3, 4); // species 1, 2, 1, 2: no class "a"
    expect(userErrorMessage(() => resolve({ species: 'balanced' }, dataset)))
      .toBe('classWeights.species: "balanced" needs every class among the labelled training rows; class "a" has none');
  });

  it('Trainer.create fails on them before any thread starts', async () => {
    await expect(createTrainer({ classWeights: { body_mass: 'balanced' } })).rejects.toThrow(/^classWeights\.body_mass: task "body_mass" has loss mse, a regression loss/);
  });

  it.each([
    [{ species: [1, -1, 1] }, 'cfg: classWeights.species[1]: -1 is not a number ≥ 0'],
    [{ species: { Adelie: -2 } }, 'cfg: classWeights.species.Adelie: -2 is not a number ≥ 0'],
    [{ species: [1, Number.NaN, 1] }, /^cfg: classWeights\.species: \[1,NaN,1\] is not "balanced", a list of weights ≥ 0/],
    [{ species: [1, Infinity, 1] }, /^cfg: classWeights\.species: \[1,Infinity,1\] is not "balanced", a list of weights ≥ 0/],
    [{ species: 'balance' }, 'cfg: classWeights.species: "balance" is not "balanced", a list of weights ≥ 0 (one per class) or an object of class: weight'],
    [{ species: [] }, 'cfg: classWeights.species: [] is not a list of at least one number ≥ 0'],
  ] as [unknown, string | RegExp][])('the schema rejects %s', (classWeights, message) => {
    const got = userErrorMessage(() => resolveConfig({ classWeights }, 'cfg'));
    if (typeof message === 'string') expect(got).toBe(message);
    else expect(got).toMatch(message);
  });
});

describe('--class-weight', () => {
  it('takes balanced, weights, class:weight pairs, several tasks at once and repeats', () => {
    expect(parseClassWeights('species=balanced')).toEqual({ species: 'balanced' });
    expect(parseClassWeights('species=1,2,0.5')).toEqual({ species: [1, 2, 0.5] });
    expect(parseClassWeights('species=Gentoo:2, Adelie:0.5')).toEqual({ species: { Gentoo: 2, Adelie: 0.5 } });
    expect(parseClassWeights('species=balanced,sex=3')).toEqual({ species: 'balanced', sex: [3] });
    expect(parseClassWeights('sex=3', parseClassWeights('species=1,2,3'))).toEqual({ species: [1, 2, 3], sex: [3] });
  });

  const expected = 'expected task=balanced, task=w1,w2,... or task=class:weight,... (e.g. species=balanced)';
  it.each([
    ['species=1,-2', '"-2" is not a number ≥ 0'],
    ['species=1,x', '"x" is not a number ≥ 0'],
    ['species=', '"" is not a number ≥ 0'],
    ['species=balanced,2', '"balanced" is not a number ≥ 0'],
    ['species=1,Gentoo:2', 'task species mixes weights with class:weight pairs'],
    ['=1,2', 'a task name before "=" is missing'],
    ['1,2', '"1" names no task'],
  ])('%s is a UserError', (text, why) => {
    expect(userErrorMessage(() => parseClassWeights(text))).toBe(`--class-weight ${text}: ${why}; ${expected}`);
  });
});
