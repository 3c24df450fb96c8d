#!/usr/bin/python3
"""Generates test/fixtures/torch/multitask-grad.json: per-task losses and gradients of
a small multi-task model, and the parameters after a few optimizer steps, from PyTorch.

Run from the repository root with a Python that has torch (Debian: /usr/bin/python3
with python3-torch):  /usr/bin/python3 scripts/torch-reference/multitask_grad.py

The model (activations applied functionally, so state_dict names are exactly these):
  x [9, 5] → trunk.0 Linear(5→7) → relu → trunk.1 Linear(7→6) → tanh → h [9, 6]
  heads.species  Linear(6→3)                                   cross_entropy (mean over rows)
  heads.sex      hidden Linear(6→4) → gelu (exact erf) → out Linear(4→1)
                                                               BCEWithLogits (mean over labelled rows;
                                                               rows 2 and 5 unlabelled, NaN)
  heads.mass     Linear(6→1)                                   MSE (mean over rows)
Initial parameters: nn.Linear's default init in float32 (torch.manual_seed(SEED)), so
every input value is exactly representable in float32; the float64 run uses the same
values widened.

Format of multitask-grad.json (all arrays flat, row-major):
{
  "generator", "torch": "<torch.__version__>", "seed",
  "model": {
    "inputSize": 5,
    "trunk": [{"out": 7, "activation": "relu"}, {"out": 6, "activation": "tanh"}],
    "heads": {
      "species": {"hidden": [], "out": 3, "loss": "cross_entropy"},
      "sex":     {"hidden": [{"out": 4, "activation": "gelu"}], "out": 1, "loss": "bce_with_logits"},
      "mass":    {"hidden": [], "out": 1, "loss": "mse"}
    }
  },
  "parameterOrder": [names in state_dict order],
  "shapes": {name: [out, in] for weights, [out] for biases},
  "parameters": {name: [...]}         initial values (float32 values)
  "taskParameters": {task: [names]}   the parameters each task's loss depends on (trunk + own head)
  "inputs": [9*5]                     (float32 values), row r = inputs[5r .. 5r+5)
  "targets": {
    "species": [9]                    class indices (0..2) as numbers
    "sex": [9]                        0/1, null = missing (NaN in the Float32Array)
    "mass": [9]                       floats (float32 values)
  },
  "lossWeights": {"species": 1.0, "sex": 0.5, "mass": 2.0},
  "adam": {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0},
  "sequentialLr": {"species": 0.1, "sex": 0.05, "mass": 0.02},
  "float64": RESULTS computed in float64 (the gradient reference),
  "float32": RESULTS computed in float32 (what a float32 implementation should land near)
}
RESULTS = {
  "losses": {task: number},           per-task mean losses at the initial parameters
  "taskGrads": {task: {name: [...]}}  ∂L_task/∂param for the parameters in taskParameters[task]
                                      (every other parameter's gradient is exactly 0)
  "weightedLoss": number,             Σ w_t·L_t
  "weightedGrad": {name: [...]}       ∂(Σ w_t·L_t)/∂param for every parameter
  "adamStep": {name: [...]}           parameters after one torch.optim.Adam(lr=0.01, foreach=False)
                                      step on Σ w_t·L_t from the initial parameters
  "sequentialFresh": [round1, round2] parameters after each round of plain-SGD sequential steps:
                                      species (lr 0.1), then sex (lr 0.05), then mass (lr 0.02),
                                      each task's gradient computed at the parameters left by the
                                      previous task's step; round 2 continues from round 1
  "sequentialStale": [round1, round2] same, but within a round every task's gradient is computed
                                      at the round's starting parameters (then the steps applied
                                      in order; with plain SGD = one step on Σ lr_t·g_t)
}
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fixture_rows, fixture_task_loss, flat, write_json  # noqa: E402

SEED = 1234
ROWS = 9
TASKS = ['species', 'sex', 'mass']
WEIGHTS = {'species': 1.0, 'sex': 0.5, 'mass': 2.0}
SEQ_LR = {'species': 0.1, 'sex': 0.05, 'mass': 0.02}
ADAM_LR = 1e-2
OUT = os.path.join('test', 'fixtures', 'torch', 'multitask-grad.json')


class HiddenHead(nn.Module):
    def __init__(self, d_in, d_hidden, d_out):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.out = nn.Linear(d_hidden, d_out)

    def forward(self, h):
        return self.out(F.gelu(self.hidden(h)))


class MultiTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.ModuleList([nn.Linear(5, 7), nn.Linear(7, 6)])
        self.heads = nn.ModuleDict({
            'species': nn.Linear(6, 3),
            'sex': HiddenHead(6, 4, 1),
            'mass': nn.Linear(6, 1),
        })

    def features(self, x):
        return torch.tanh(self.trunk[1](F.relu(self.trunk[0](x))))

    def task_loss(self, task, x, targets):
        return fixture_task_loss(task, self.heads[task](self.features(x)), targets[task])


def names_of(model, task):
    return [n for n, _ in model.named_parameters() if n.startswith('trunk.') or n.startswith(f'heads.{task}.')]


def grads(model, loss_fn):
    model.zero_grad(set_to_none=True)
    loss = loss_fn()
    loss.backward()
    return loss.item(), {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
                         for n, p in model.named_parameters()}


def snapshot(model):
    return {n: flat(p) for n, p in model.named_parameters()}


def run(base, x32, targets32, dtype):
    def fresh_model():
        m = MultiTask().to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in base.state_dict().items()})
        return m

    x = x32.to(dtype)
    targets = {t: v.to(dtype) for t, v in targets32.items()}
    model = fresh_model()

    losses, task_grads = {}, {}
    for t in TASKS:
        loss, g = grads(model, lambda: model.task_loss(t, x, targets))
        losses[t] = loss
        task_grads[t] = {n: flat(g[n]) for n in names_of(model, t)}

    def weighted():
        return sum(WEIGHTS[t] * model.task_loss(t, x, targets) for t in TASKS)

    weighted_loss, wg = grads(model, weighted)

    # one Adam step on the weighted loss
    model = fresh_model()
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, foreach=False)
    opt.zero_grad(set_to_none=True)
    weighted().backward()
    opt.step()
    adam_step = snapshot(model)

    # sequential plain SGD, fresh: each task's gradient at the parameters its predecessor left
    model = fresh_model()
    fresh_rounds = []
    for _ in range(2):
        for t in TASKS:
            _, g = grads(model, lambda: model.task_loss(t, x, targets))
            with torch.no_grad():
                for n, p in model.named_parameters():
                    p.sub_(SEQ_LR[t] * g[n])
        fresh_rounds.append(snapshot(model))

    # sequential plain SGD, stale: every task's gradient at the round's starting parameters
    model = fresh_model()
    stale_rounds = []
    for _ in range(2):
        gs = {t: grads(model, lambda: model.task_loss(t, x, targets))[1] for t in TASKS}
        with torch.no_grad():
            for t in TASKS:
                for n, p in model.named_parameters():
                    p.sub_(SEQ_LR[t] * gs[t][n])
        stale_rounds.append(snapshot(model))

    return {
        'losses': losses,
        'taskGrads': task_grads,
        'weightedLoss': weighted_loss,
        'weightedGrad': {n: flat(v) for n, v in wg.items()},
        'adamStep': adam_step,
        'sequentialFresh': fresh_rounds,
        'sequentialStale': stale_rounds,
    }


def main():
    torch.manual_seed(SEED)
    base = MultiTask()  # float32 default init
    x, targets = fixture_rows(ROWS)

    sd = base.state_dict()
    write_json(OUT, {
        'generator': 'scripts/torch-reference/multitask_grad.py',
        'torch': torch.__version__,
        'seed': SEED,
        'model': {
            'inputSize': 5,
            'trunk': [{'out': 7, 'activation': 'relu'}, {'out': 6, 'activation': 'tanh'}],
            'heads': {
                'species': {'hidden': [], 'out': 3, 'loss': 'cross_entropy'},
                'sex': {'hidden': [{'out': 4, 'activation': 'gelu'}], 'out': 1, 'loss': 'bce_with_logits'},
                'mass': {'hidden': [], 'out': 1, 'loss': 'mse'},
            },
        },
        'parameterOrder': list(sd.keys()),
        'shapes': {n: list(v.shape) for n, v in sd.items()},
        'parameters': {n: flat(v) for n, v in sd.items()},
        'taskParameters': {t: names_of(base, t) for t in TASKS},
        'inputs': flat(x),
        'targets': {t: flat(v) for t, v in targets.items()},
        'lossWeights': WEIGHTS,
        'adam': {'lr': ADAM_LR, 'betas': [0.9, 0.999], 'eps': 1e-8, 'weightDecay': 0},
        'sequentialLr': SEQ_LR,
        'float64': run(base, x, targets, torch.float64),
        'float32': run(base, x, targets, torch.float32),
    })
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    main()
