#!/usr/bin/python3
"""Generates test/fixtures/torch/class-weights.json: PyTorch's class-weighted losses,
torch.nn.functional.cross_entropy(weight=w) and binary_cross_entropy_with_logits(pos_weight=p),
on their own and on the model of multitask-grad.json.

Run from the repository root with a Python that has torch (Debian: /usr/bin/python3
with python3-torch), after multitask_grad.py (its parameters, inputs and targets are read):
  /usr/bin/python3 scripts/torch-reference/class_weights.py

Every result is computed in float64 from float32 inputs. Format:
{
  "generator", "torch",
  "losses": {                                   the losses alone, mean reduction over labelled entries
    "cross_entropy":   {"rows", "cols", "logits": [rows*cols], "targets": [rows] (null: unlabelled),
                        "weights": [cols], "loss", "grad": [rows*cols] ∂loss/∂logits},
    "bce_with_logits": {"rows", "cols", "logits", "targets": [rows*cols] (soft labels too),
                        "weights": [cols] (pos_weight per column), "loss", "grad"},
    "bce":             same logits and targets, plus "probabilities" = sigmoid(logits) in float32
                       (what a bce head outputs); "loss" and "grad" (∂/∂logits) are
                       BCEWithLogitsLoss(pos_weight)'s at the logits
  },
  "model": {                                    the multitask-grad.json model and batch
    "weights": {"species": [3] class weights, "sex": [1] pos_weight},
    "losses": {task: weighted mean loss}, "taskGrads": {task: {name: [...]}},
    "balanced": {"species": [3], "sex": [1]}    scikit-learn's "balanced" n / (n_classes * n_c) on the
                                                batch's labelled rows (sex: pos_weight = n_neg / n_pos),
                                                computed here from that formula (sklearn is not needed)
    "balancedLosses": {task: loss with the balanced weights}
  }
}
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import flat, write_json  # noqa: E402
from multitask_grad import MultiTask, names_of  # noqa: E402

SEED = 515
GRAD_FIXTURE = os.path.join('test', 'fixtures', 'torch', 'multitask-grad.json')
OUT = os.path.join('test', 'fixtures', 'torch', 'class-weights.json')
NAN = float('nan')


def loss_and_grad(logits32, fn):
    z = logits32.to(torch.float64).clone().requires_grad_(True)
    loss = fn(z)
    loss.backward()
    return loss.item(), flat(z.grad)


def loss_cases(gen):
    rows, cols = 7, 4
    logits = (torch.randn(rows, cols, generator=gen) * 2).to(torch.float32)
    targets = torch.tensor([0, 3, NAN, 1, 3, NAN, 2])
    weights = torch.tensor([0.3, 1.7, 0.0, 2.2])
    labelled = ~torch.isnan(targets)
    ce_loss, ce_grad = loss_and_grad(logits, lambda z: F.cross_entropy(
        z[labelled], targets[labelled].long(), weight=weights.to(torch.float64)))

    brows, bcols = 6, 3
    blogits = (torch.randn(brows, bcols, generator=gen) * 2).to(torch.float32)
    btargets = torch.tensor([[1, 0, 1], [0, NAN, 1], [1, 1, 0], [0.3, 0, 1], [NAN, 1, 0], [1, 0, 0]], dtype=torch.float32)
    pos_weight = torch.tensor([0.5, 3.0, 1.0])
    mask = ~torch.isnan(btargets)

    def bce_fn(z):
        per = F.binary_cross_entropy_with_logits(z, torch.nan_to_num(btargets).to(torch.float64),
                                                 pos_weight=pos_weight.to(torch.float64), reduction='none')
        return per[mask].mean()

    b_loss, b_grad = loss_and_grad(blogits, bce_fn)
    binary = {'rows': brows, 'cols': bcols, 'logits': flat(blogits), 'targets': flat(btargets),
              'weights': flat(pos_weight), 'loss': b_loss, 'grad': b_grad}
    return {
        'cross_entropy': {'rows': rows, 'cols': cols, 'logits': flat(logits), 'targets': flat(targets),
                          'weights': flat(weights), 'loss': ce_loss, 'grad': ce_grad},
        'bce_with_logits': binary,
        'bce': {**binary, 'probabilities': flat(torch.sigmoid(blogits))},
    }


def balanced(y, classes):
    """scikit-learn's compute_class_weight('balanced'): n_samples / (n_classes * bincount(y))."""
    counts = torch.bincount(y.long(), minlength=classes).to(torch.float64)
    return (y.numel() / (classes * counts)).tolist()


def model_case():
    with open(GRAD_FIXTURE) as f:
        g = json.load(f)
    model = MultiTask().to(torch.float64)
    model.load_state_dict({n: torch.tensor(v, dtype=torch.float64).reshape(g['shapes'][n])
                           for n, v in g['parameters'].items()})
    x = torch.tensor(g['inputs'], dtype=torch.float64).reshape(-1, g['model']['inputSize'])
    species = torch.tensor(g['targets']['species'], dtype=torch.float64)
    sex = torch.tensor([NAN if v is None else v for v in g['targets']['sex']], dtype=torch.float64)
    labelled = ~torch.isnan(sex)

    def losses_with(w):
        def species_loss():
            return F.cross_entropy(model.heads['species'](model.features(x)), species.long(),
                                   weight=torch.tensor(w['species'], dtype=torch.float64))

        def sex_loss():
            z = model.heads['sex'](model.features(x)).reshape(-1)
            return F.binary_cross_entropy_with_logits(z[labelled], sex[labelled],
                                                      pos_weight=torch.tensor(w['sex'], dtype=torch.float64))
        return {'species': species_loss, 'sex': sex_loss}

    weights = {'species': [0.5, 2.0, 1.25], 'sex': [2.5]}
    losses, task_grads = {}, {}
    for task, fn in losses_with(weights).items():
        model.zero_grad(set_to_none=True)
        loss = fn()
        loss.backward()
        losses[task] = loss.item()
        task_grads[task] = {n: flat(p.grad) for n, p in model.named_parameters() if n in names_of(model, task)}

    s = balanced(species, 3)
    sx = balanced(sex[labelled], 2)
    bal = {'species': s, 'sex': [sx[1] / sx[0]]}
    with torch.no_grad():
        balanced_losses = {task: fn().item() for task, fn in losses_with(bal).items()}
    return {'weights': weights, 'losses': losses, 'taskGrads': task_grads, 'balanced': bal, 'balancedLosses': balanced_losses}


def main():
    gen = torch.Generator().manual_seed(SEED)
    write_json(OUT, {
        'generator': 'scripts/torch-reference/class_weights.py',
        'torch': torch.__version__,
        'losses': loss_cases(gen),
        'model': model_case(),
    })
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
