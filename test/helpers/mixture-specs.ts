/** Small mixture-of-experts specs for the model tests (three tasks; smooth activations for finite differences). */
import { validateModelSpec, type MixtureSpec, type ModelSpec } from '../../src/model/spec.js';

function mixtureSpec(mixture: MixtureSpec): ModelSpec {
  return validateModelSpec({
    inputWidth: 4,
    trunk: [],
    tasks: [
      { name: 'a', loss: 'mse', outputs: 1, weight: 1 },
      { name: 'b', loss: 'bce_with_logits', outputs: 1, weight: 0.5 },
      { name: 'c', loss: 'cross_entropy', outputs: 3, weight: 2 },
    ],
    mixture,
  });
}

// smooth activations only: a finite difference across a relu kink means nothing
export const SPECS: Record<string, ModelSpec> = {
  mmoe: mixtureSpec({ architecture: 'mmoe', experts: 3, taskExperts: 0, levels: 1,
    expert: [{ units: 5, activation: 'tanh' }, { units: 3, activation: 'gelu' }], tower: [{ units: 2, activation: 'sigmoid' }] }),
  cgc: mixtureSpec({ architecture: 'ple', experts: 2, taskExperts: 1, levels: 1, expert: [{ units: 3, activation: 'tanh' }], tower: [] }),
  ple: mixtureSpec({ architecture: 'ple', experts: 2, taskExperts: 2, levels: 3,
    expert: [{ units: 3, activation: 'tanh' }], tower: [{ units: 2, activation: 'gelu' }] }),
};

