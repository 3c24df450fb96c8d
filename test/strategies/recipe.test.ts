/**
 * The step recipe on its own, on hand-made gradients: which gradients and
 * optimizer states each strategy asks for, and what each chain makes of the
 * gradients (the trainer-level tests and the pinned weights cover the rest).
 */
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/kernels/js.js';
import { LOSS_COUNT, LOSS_STATS_LENGTH, LOSS_SUM, LOSS_WEIGHT } from '../../src/kernels/types.js';
import { buildLayout } from '../../src/model/layout.js';
import { StepRecipe, type RecipeSettings, type StepContext } from '../../src/strategies/recipe.js';

const spec = {
  inputWidth: 2,
  trunk: [{ units: 2, activation: 'relu' as const }],
  tasks: [
    { name: 'a', loss: 'mse' as const, outputs: 1, weight: 1 },
    { name: 'b', loss: 'mse' as const, outputs: 1, weight: 1 },
  ],
};
const layout = buildLayout(spec);
const model = { tasks: ['a', 'b'], layout, trunkLayers: 1 };
const base: RecipeSettings = { strategy: 'sum', strategyOptions: {}, weighting: null, sequentialMode: 'fresh', plan: 'auto', clip: null, seed: 0 };

/** Task t's gradient: distinct values over the trunk and its head, zero over the other head. */
function taskGradients(): Float32Array[] {
  return [0, 1].map((t) => {
    const g = new Float32Array(layout.total);
    for (let i = 0; i < layout.trunk.length; i++) g[layout.trunk.offset + i] = (t === 0 ? 1 : -2) * (i + 1);
    const head = layout.heads[t];
    for (let i = 0; i < head.length; i++) g[head.offset + i] = 10 * (t + 1) + i;
    return g;
  });
}

function context(losses = [1, 1]): StepContext & { dropped: string[] } {
  const lossSums = new Float64Array(losses.length * LOSS_STATS_LENGTH);
  losses.forEach((l, t) => {
    lossSums[t * LOSS_STATS_LENGTH + LOSS_SUM] = l;
    lossSums[t * LOSS_STATS_LENGTH + LOSS_COUNT] = 1;
    lossSums[t * LOSS_STATS_LENGTH + LOSS_WEIGHT] = 1;
  });
  const dropped: string[] = [];
  return { step: 0, lossSums, timing: { combine: 0, optimizer: 0 }, nonFinite: (what) => { dropped.push(what); }, dropped };
}

function recipe(settings: Partial<RecipeSettings>, grads = taskGradients()): StepRecipe {
  const r = StepRecipe.for({ ...base, ...settings }, model, jsKernels);
  r.bind(r.gradients === 'fused' ? { tasks: [], fused: grads[0] } : { tasks: grads });
  r.begin();
  return r;
}

describe('StepRecipe', () => {
  it('asks for the gradients and optimizer states each strategy needs', () => {
    const kinds = (s: Partial<RecipeSettings>) => {
      const r = StepRecipe.for({ ...base, ...s }, model, jsKernels);
      return [r.gradients, r.optimizers, r.rounds];
    };
    expect(kinds({})).toEqual(['fused', 'shared', 1]);
    expect(kinds({ plan: 'per-task' })).toEqual(['per-task', 'shared', 1]);
    expect(kinds({ clip: { max: 1, per: 'task' } })).toEqual(['per-task', 'shared', 1]);
    expect(kinds({ strategy: 'pcgrad' })).toEqual(['per-task', 'shared', 1]);
    expect(kinds({ strategy: 'sequential' })).toEqual(['in-turn', 'per-task', 2]);
    expect(kinds({ strategy: 'sequential', sequentialMode: 'stale' })).toEqual(['per-task', 'per-task', 1]);
  });

  it('sum on per-task gradients: one update, their sum', () => {
    const grads = taskGradients();
    const updates = recipe({ plan: 'per-task' }, grads).round(0, context())!;
    expect(updates).toHaveLength(1);
    expect(updates[0].optimizer).toBe(0);
    expect(Array.from(updates[0].grad)).toEqual(Array.from(grads[0], (x, i) => x + grads[1][i]));
  });

  it('a combination: the strategy on the trunk, each head its own gradient', () => {
    const grads = taskGradients();
    const r = recipe({ strategy: 'mean' }, grads);
    const update = r.round(0, context())![0].grad;
    const { trunk, heads } = layout;
    for (let i = trunk.offset; i < trunk.offset + trunk.length; i++) expect(update[i]).toBeCloseTo((grads[0][i] + grads[1][i]) / 2, 6);
    for (const [t, head] of heads.entries()) {
      expect(Array.from(update.subarray(head.offset, head.offset + head.length))).toEqual(Array.from(grads[t].subarray(head.offset, head.offset + head.length)));
    }
    expect(r.end(context())?.weights).toEqual([0.5, 0.5]);
  });

  it('sequential stale with a weighting: each task to its own optimizer, scaled by its weight', () => {
    const grads = taskGradients();
    const before = grads.map((g) => g.slice());
    const updates = recipe({ strategy: 'sequential', sequentialMode: 'stale', weighting: 'fixed', strategyOptions: { weights: [1, 0.5] } }, grads).round(0, context())!;
    expect(updates.map((u) => u.optimizer)).toEqual([0, 1]);
    expect(Array.from(updates[1].grad)).toEqual(Array.from(before[1], (x) => x * 0.5));
    expect(Array.from(updates[0].grad)).toEqual(Array.from(before[0]));
  });

  it('sequential fresh: one round per task; a weighting applies the weights of the step before', () => {
    const grads = taskGradients();
    const before = grads.map((g) => g.slice());
    const r = recipe({ strategy: 'sequential', weighting: 'fixed', strategyOptions: { weights: [2, 3] } }, grads);
    expect(r.round(0, context())!.map((u) => u.optimizer)).toEqual([0]);
    expect(r.round(1, context())!.map((u) => u.optimizer)).toEqual([1]);
    expect(Array.from(grads[1])).toEqual(Array.from(before[1])); // weights of 1 before any step
    r.end(context());
    expect(r.state()?.sequentialWeights).toEqual([2, 3]);
    r.begin();
    r.round(1, context());
    expect(Array.from(grads[1])).toEqual(Array.from(before[1], (x) => x * 3));
  });

  it('clipping is a link: per task before combining, globally on each update', () => {
    const perTask = taskGradients();
    recipe({ plan: 'per-task', clip: { max: 1, per: 'task' } }, perTask).round(0, context());
    for (const g of perTask) expect(jsKernels.norm(g.length, g)).toBeLessThanOrEqual(1 + 1e-6);
    const global = recipe({ plan: 'per-task', clip: { max: 1, per: 'global' } }).round(0, context())![0].grad;
    expect(jsKernels.norm(global.length, global)).toBeLessThanOrEqual(1 + 1e-6);
  });

  it('a non-finite loss or gradient drops the step and says which task and step', () => {
    const ctx = context([1, NaN]);
    expect(recipe({ plan: 'per-task' }).round(0, ctx)).toBeNull();
    expect(ctx.dropped).toEqual(['task b, step 0: the loss is NaN']);
    const grads = taskGradients();
    grads[0][0] = Infinity;
    const ctx2 = context();
    expect(recipe({ strategy: 'sequential' }, grads).round(0, ctx2)).toBeNull();
    expect(ctx2.dropped[0]).toMatch(/^task a, step 0: the gradient is not finite/);
  });

  it('keeps the strategy state for checkpoints and restores it', () => {
    const r = recipe({ strategy: 'uncertainty' });
    r.round(0, context([2, 0.5]));
    const saved = structuredClone(r.state());
    const other = recipe({ strategy: 'uncertainty' });
    other.restore(saved, 'ckpt');
    expect(other.state()).toEqual(saved);
    expect(() => other.restore(null, 'ckpt')).toThrow(/ckpt: holds no state for strategy uncertainty/);
  });
});
