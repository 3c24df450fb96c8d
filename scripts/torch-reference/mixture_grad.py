#!/usr/bin/python3
"""Generates test/fixtures/torch/mixture-grad.json: predictions, per-task losses and
gradients of a small MMoE and a small PLE model, from PyTorch in float64.

Run from the repository root with a Python that has torch (Debian: /usr/bin/python3
with python3-torch):  /usr/bin/python3 scripts/torch-reference/mixture_grad.py

The modules are those of mixture_modules.py (multitask's tensor names). Three tasks
on 9 rows of 5 inputs: species cross_entropy (3 classes, mean over rows), sex
BCEWithLogits (rows 2 and 5 unlabelled, mean over labelled rows), mass MSE. Initial
parameters: nn.Linear's default init in float32 (torch.manual_seed(SEED)); the
float64 run uses the same values widened.

Format (arrays flat, row-major):
{
  "generator", "torch", "seed",
  "inputs": [9*5], "targets": {task: [9], null = unlabelled}, "lossWeights": {task: w},
  "models": {
    "mmoe" | "ple": {
      "spec": a multitask ModelSpec (inputWidth, trunk [], tasks, mixture),
      "parameterOrder": [state_dict names], "parameters": {name: [...]},
      "predictions": {task: [rows*outputs]},
      "losses": {task: mean loss},
      "taskGrads": {task: {name: [...]}}   ∂L_task/∂param for EVERY parameter (0 where unreached)
      "weightedGrad": {name: [...]}        ∂(Σ w_t·L_t)/∂param
    }
  }
}
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fixture_rows, fixture_task_loss, flat, write_json  # noqa: E402
from mixture_modules import mixture_module  # noqa: E402

SEED = 4321
ROWS = 9
OUT = os.path.join('test', 'fixtures', 'torch', 'mixture-grad.json')
WEIGHTS = {'species': 1.0, 'sex': 0.5, 'mass': 2.0}
TASKS = [
    {'name': 'species', 'loss': 'cross_entropy', 'outputs': 3, 'weight': 1.0},
    {'name': 'sex', 'loss': 'bce_with_logits', 'outputs': 1, 'weight': 0.5},
    {'name': 'mass', 'loss': 'mse', 'outputs': 1, 'weight': 2.0},
]
MIXTURES = {
    'mmoe': {'architecture': 'mmoe', 'experts': 3, 'taskExperts': 0, 'levels': 1,
             'expert': [{'units': 6, 'activation': 'relu'}, {'units': 4, 'activation': 'tanh'}],
             'tower': [{'units': 3, 'activation': 'gelu'}]},
    'ple': {'architecture': 'ple', 'experts': 2, 'taskExperts': 2, 'levels': 3,
            'expert': [{'units': 4, 'activation': 'relu'}],
            'tower': [{'units': 3, 'activation': 'sigmoid'}]},
}


def gradients(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: flat(p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in model.named_parameters()}


def run(spec, x32, targets32):
    torch.manual_seed(SEED)
    base = mixture_module(spec)  # float32 default init
    model = mixture_module(spec).to(torch.float64)
    model.load_state_dict({k: v.to(torch.float64) for k, v in base.state_dict().items()}, strict=True)
    x = x32.to(torch.float64)
    targets = {t: v.to(torch.float64) for t, v in targets32.items()}
    with torch.no_grad():
        predictions = {t: flat(v) for t, v in model(x).items()}
    losses, task_grads = {}, {}
    for t in WEIGHTS:
        loss = fixture_task_loss(t, model(x)[t], targets[t])
        losses[t] = loss.item()
        task_grads[t] = gradients(model, loss)
    out = model(x)
    weighted = sum(WEIGHTS[t] * fixture_task_loss(t, out[t], targets[t]) for t in WEIGHTS)
    sd = base.state_dict()
    return {
        'spec': spec,
        'parameterOrder': list(sd.keys()),
        'parameters': {n: flat(v) for n, v in sd.items()},
        'predictions': predictions,
        'losses': losses,
        'taskGrads': task_grads,
        'weightedGrad': gradients(model, weighted),
    }


def main():
    torch.manual_seed(SEED)
    x, targets = fixture_rows(ROWS)
    models = {}
    for name, mixture in MIXTURES.items():
        spec = {'inputWidth': 5, 'trunk': [], 'tasks': TASKS, 'mixture': mixture}
        models[name] = run(spec, x, targets)
    write_json(OUT, {
        'generator': 'scripts/torch-reference/mixture_grad.py',
        'torch': torch.__version__,
        'seed': SEED,
        'inputs': flat(x),
        'targets': {t: flat(v) for t, v in targets.items()},
        'lossWeights': WEIGHTS,
        'models': models,
    })
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    main()
