#!/usr/bin/python3
"""Generates test/fixtures/torch/optimizers.json: PyTorch's torch.optim SGD, Adam
and AdamW (single-tensor path, foreach=False) applied to a fixed float32 vector.

Run from the repository root with a Python that has torch (Debian: /usr/bin/python3
with python3-torch):  /usr/bin/python3 scripts/torch-reference/optimizers.py

Format of optimizers.json:
{
  "generator": "scripts/torch-reference/optimizers.py",
  "torch": "<torch.__version__>",
  "dtype": "float32",
  "params": [n numbers]                 initial parameter vector (float32 values)
  "grads": [[n numbers] x steps]        gradient fed at each step (float32 values;
                                        element 0 is always 0, magnitudes span 1e-4..1e2)
  "cases": [{
    "name": "adam defaults",
    "config": {...}                     the project's OptimizerConfig (camelCase), only
                                        the fields that were set; PyTorch defaults otherwise
    "torch": "Adam(lr=0.001, foreach=False)"   the PyTorch call
    "lrs": [steps numbers]              optional: param_group lr set before each step
                                        (a schedule); absent = config.lr throughout
    "steps": [[n numbers] x steps]      params after step 1, 2, ... (float32 values)
    "state": {name: [n numbers]}        optimizer state after the last step:
                                        sgd with momentum: {"momentum"}; adam/adamw: {"m", "v"}
                                        (PyTorch's momentum_buffer / exp_avg / exp_avg_sq)
  }]
}
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import flat, write_json  # noqa: E402

N = 20
STEPS = 5
SEED = 20240611
OUT = os.path.join('test', 'fixtures', 'torch', 'optimizers.json')

CASES = [
    ('sgd plain', {'name': 'sgd', 'lr': 0.1}, lambda p: torch.optim.SGD([p], lr=0.1, foreach=False),
     'SGD(lr=0.1, foreach=False)', None),
    ('sgd momentum dampening wd',
     {'name': 'sgd', 'lr': 0.05, 'momentum': 0.9, 'dampening': 0.1, 'weightDecay': 0.01},
     lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01, foreach=False),
     'SGD(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01, foreach=False)', None),
    ('sgd nesterov wd',
     {'name': 'sgd', 'lr': 0.05, 'momentum': 0.9, 'nesterov': True, 'weightDecay': 1e-3},
     lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3, foreach=False),
     'SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.001, foreach=False)', None),
    ('adam defaults', {'name': 'adam', 'lr': 1e-3},
     lambda p: torch.optim.Adam([p], lr=1e-3, foreach=False),
     'Adam(lr=0.001, foreach=False)', None),
    ('adam wd', {'name': 'adam', 'lr': 1e-3, 'weightDecay': 0.01},
     lambda p: torch.optim.Adam([p], lr=1e-3, weight_decay=0.01, foreach=False),
     'Adam(lr=0.001, weight_decay=0.01, foreach=False)', None),
    ('adamw wd', {'name': 'adamw', 'lr': 1e-2, 'weightDecay': 0.1},
     lambda p: torch.optim.AdamW([p], lr=1e-2, weight_decay=0.1, foreach=False),
     'AdamW(lr=0.01, weight_decay=0.1, foreach=False)', None),
    ('adamw defaults', {'name': 'adamw', 'lr': 1e-2},
     lambda p: torch.optim.AdamW([p], lr=1e-2, foreach=False),
     'AdamW(lr=0.01, foreach=False)  # weight_decay defaults to 0.01', None),
    ('adam betas eps', {'name': 'adam', 'lr': 1e-3, 'betas': [0.8, 0.99], 'eps': 1e-6},
     lambda p: torch.optim.Adam([p], lr=1e-3, betas=(0.8, 0.99), eps=1e-6, foreach=False),
     'Adam(lr=0.001, betas=(0.8, 0.99), eps=1e-06, foreach=False)', None),
    ('adam lr schedule', {'name': 'adam', 'lr': 1e-3},
     lambda p: torch.optim.Adam([p], lr=1e-3, foreach=False),
     'Adam(lr=0.001, foreach=False), param_groups[0]["lr"] = lrs[t] before step t',
     [1e-3, 2e-3, 5e-3, 2.5e-3, 1e-4]),
    ('sgd momentum lr schedule', {'name': 'sgd', 'lr': 0.1, 'momentum': 0.5},
     lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.5, foreach=False),
     'SGD(lr=0.1, momentum=0.5, foreach=False), param_groups[0]["lr"] = lrs[t] before step t',
     [0.1, 0.05, 0.2, 0.0, 0.01]),
]


def main():
    g = torch.Generator().manual_seed(SEED)
    params0 = torch.randn(N, generator=g, dtype=torch.float32)
    # per-element magnitudes from 1e-4 to 1e2, fixed across steps; element 0 gets no gradient
    scales = (10.0 ** torch.linspace(-4, 2, N, dtype=torch.float64))[torch.randperm(N, generator=g)]
    grads = []
    for _ in range(STEPS):
        gr = (torch.randn(N, generator=g, dtype=torch.float64) * scales).to(torch.float32)
        gr[0] = 0.0
        grads.append(gr)

    cases = []
    for name, config, make, call, lrs in CASES:
        p = params0.clone().requires_grad_(True)
        opt = make(p)
        steps = []
        for t in range(STEPS):
            if lrs is not None:
                opt.param_groups[0]['lr'] = lrs[t]
            p.grad = grads[t].clone()
            opt.step()
            steps.append(flat(p))
        st = opt.state[p]
        if st.get('momentum_buffer') is not None:
            state = {'momentum': flat(st['momentum_buffer'])}
        elif 'exp_avg' in st:
            state = {'m': flat(st['exp_avg']), 'v': flat(st['exp_avg_sq'])}
        else:
            state = {}
        case = {'name': name, 'config': config, 'torch': call}
        if lrs is not None:
            case['lrs'] = lrs
        case['steps'] = steps
        case['state'] = state
        cases.append(case)

    write_json(OUT, {
        'generator': 'scripts/torch-reference/optimizers.py',
        'torch': torch.__version__,
        'dtype': 'float32',
        'seed': SEED,
        'params': flat(params0),
        'grads': [flat(gr) for gr in grads],
        'cases': cases,
    })
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    main()
