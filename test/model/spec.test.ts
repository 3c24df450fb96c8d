import { describe, expect, it } from 'vitest';
import { validateModelSpec, type ModelSpec } from '../../src/model/spec.js';
import { fixtureSpec } from '../helpers/torch-fixture.js';
import { userErrorMessage } from '../helpers/user-error.js';

/** The fixture's spec (species cross_entropy 3 classes, sex bce_with_logits, mass mse) with task t's class weights. */
function withWeights(t: number, classWeights: unknown): ModelSpec {
  const spec = fixtureSpec();
  (spec.tasks[t] as { classWeights?: unknown }).classWeights = classWeights;
  return spec;
}

describe('class weights in a model spec (a weights file may be hostile)', () => {
  it('one per class, or one pos_weight per output, finite and ≥ 0', () => {
    expect(() => validateModelSpec(withWeights(0, [0.5, 2, 0]))).not.toThrow();
    expect(() => validateModelSpec(withWeights(1, [2.5]))).not.toThrow();
  });

  it.each([
    [0, [1, 2], 'model.tasks[0].classWeights: [1,2] is not a list of 3 weights (one per class)'],
    [1, [1, 2], 'model.tasks[1].classWeights: [1,2] is not a list of 1 weights (one per output)'],
    [0, 'balanced', 'model.tasks[0].classWeights: "balanced" is not a list of 3 weights (one per class)'],
    [0, [1, -1, 1], 'model.tasks[0].classWeights: -1 is not a finite number ≥ 0'],
    [0, [1, null, 1], 'model.tasks[0].classWeights: null is not a finite number ≥ 0'],
    [2, [1], 'model.tasks[2].classWeights: task "mass" has loss mse, a regression loss, so it takes no class weights'],
  ] as [number, unknown, string][])('task %i with %j is a UserError', (t, w, message) => {
    expect(userErrorMessage(() => validateModelSpec(withWeights(t, w)))).toBe(message);
  });
});
