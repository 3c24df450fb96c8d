"""Helpers shared by the torch-reference generators: compact, exact JSON output.

Numbers are written with Python's repr of the float64 value, which round-trips
exactly: a float32 value read with JSON.parse and stored into a Float32Array (or
passed through Math.fround) is the same float32; a float64 value is the same double.
NaN (missing label) is written as null.
"""
import json
import math

import torch
import torch.nn.functional as F


def flat(t):
    """A tensor as a flat list of Python floats (row-major), NaN as None."""
    return [None if math.isnan(v) else float(v) for v in t.detach().reshape(-1).tolist()]


def _dump(obj, indent, level):
    pad = ' ' * (indent * (level + 1))
    end = ' ' * (indent * level)
    if isinstance(obj, dict):
        if not obj:
            return '{}'
        items = [f'{pad}{json.dumps(k)}: {_dump(v, indent, level + 1)}' for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '\n' + end + '}'
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in obj):
            return json.dumps(list(obj), allow_nan=False)  # arrays of scalars on one line
        items = [pad + _dump(v, indent, level + 1) for v in obj]
        return '[\n' + ',\n'.join(items) + '\n' + end + ']'
    return json.dumps(obj, allow_nan=False)


def write_json(path, obj, indent=1):
    with open(path, 'w') as f:
        f.write(_dump(obj, indent, 0) + '\n')


def fixture_task_loss(task, out, y):
    """The reference fixtures' task losses (mean over labelled rows): species cross-entropy,
    sex BCE with logits (NaN targets unlabelled), anything else MSE."""
    if task == 'species':
        return F.cross_entropy(out, y.long())
    if task == 'sex':
        z = out.reshape(-1)
        labelled = ~torch.isnan(y)
        return F.binary_cross_entropy_with_logits(z[labelled], y[labelled])
    return F.mse_loss(out.reshape(-1), y)


def fixture_rows(rows):
    """The reference fixtures' inputs (rows × 5, normal) and targets, drawn from torch's
    generator in this order: species class indices, sex 0/1 (rows 2 and 5 unlabelled), mass."""
    x = torch.randn(rows, 5)
    targets = {
        'species': torch.randint(0, 3, (rows,)).to(torch.float32),
        'sex': torch.randint(0, 2, (rows,)).to(torch.float32),
        'mass': torch.randn(rows),
    }
    targets['sex'][2] = float('nan')
    targets['sex'][5] = float('nan')
    return x, targets
