#!/usr/bin/python3
"""Loads a multitask safetensors file (`--save-weights`, `multitask export`) into a
PyTorch module with the same layer names, and runs it on a small fixed input.

    /usr/bin/python3 scripts/torch-reference/load_safetensors.py model.safetensors [--expect outputs.json]

The module is built from the model spec that multitask stores in the file's
metadata (`multitask.model`): a trunk `ModuleList` of Linear layers and a
`ModuleDict` of heads, each a Linear, or a module with `hidden` and `out`
Linears; for an `mmoe` or `ple` model, the module of mixture_modules.py. The weights are loaded with `load_state_dict(strict=True)`, so every
name and shape must match. Uses the `safetensors` package when installed, and
otherwise reads the format directly (8-byte header length, JSON header,
little-endian data).

The input is x[r, c] = 0.1 * (r + 1) - 0.05 * c for 3 rows. `--expect` takes a
JSON file {task: [[outputs per row]]} (e.g. computed by multitask) and prints
the largest difference from PyTorch's outputs.
"""
import json
import os
import struct
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mixture_modules import ACTIVATIONS, mixture_module  # noqa: E402

DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64}


def read_safetensors(path):
    """(state_dict, metadata) from a safetensors file."""
    try:
        from safetensors import safe_open
        tensors = {}
        with safe_open(path, framework='pt') as f:
            metadata = f.metadata() or {}
            for name in f.keys():
                tensors[name] = f.get_tensor(name)
        return tensors, metadata
    except ImportError:
        pass
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop('__metadata__', {})
    body = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info['data_offsets']
        dtype = DTYPES[info['dtype']]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info['shape'])
    return tensors, metadata


class Head(nn.Module):
    def __init__(self, width, hidden, outputs):
        super().__init__()
        self.hidden = nn.Linear(width, hidden)
        self.out = nn.Linear(hidden, outputs)


class MultitaskNet(nn.Module):
    """The same names as multitask's layout: trunk.{i}, heads.{task}[.hidden|.out]."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        width = spec['inputWidth']
        self.trunk = nn.ModuleList()
        for layer in spec['trunk']:
            self.trunk.append(nn.Linear(width, layer['units']))
            width = layer['units']
        self.heads = nn.ModuleDict()
        for task in spec['tasks']:
            if task.get('hidden'):
                self.heads[task['name']] = Head(width, task['hidden']['units'], task['outputs'])
            else:
                self.heads[task['name']] = nn.Linear(width, task['outputs'])

    def forward(self, x):
        for linear, layer in zip(self.trunk, self.spec['trunk']):
            x = ACTIVATIONS[layer['activation']](linear(x))
        out = {}
        for task in self.spec['tasks']:
            head = self.heads[task['name']]
            if task.get('hidden'):
                y = head.out(ACTIVATIONS[task['hidden']['activation']](head.hidden(x)))
            else:
                y = head(x)
            out[task['name']] = torch.sigmoid(y) if task['loss'] == 'bce' else y  # bce heads end in a sigmoid
        return out


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        return 0
    path = argv[0]
    expect = argv[argv.index('--expect') + 1] if '--expect' in argv else None
    state, metadata = read_safetensors(path)
    if 'multitask.model' not in metadata:
        print(f'{path}: no "multitask.model" in the metadata; cannot tell the activations', file=sys.stderr)
        return 2
    spec = json.loads(metadata['multitask.model'])
    model = mixture_module(spec) if spec.get('mixture') else MultitaskNet(spec)
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    model.eval()
    print(f'torch {torch.__version__}: loaded {path} with load_state_dict(strict=True)')
    for name, p in model.state_dict().items():
        print(f'  {name:32s} {list(p.shape)}')
    x = torch.tensor([[0.1 * (r + 1) - 0.05 * c for c in range(spec['inputWidth'])] for r in range(3)],
                     dtype=torch.float32)
    with torch.no_grad():
        outputs = model(x)
    for task, y in outputs.items():
        print(f'  {task}: {[[round(v, 6) for v in row] for row in y.tolist()]}')
    if expect:
        with open(expect) as f:
            expected = json.load(f)
        worst = max(float((outputs[t] - torch.tensor(rows, dtype=torch.float32)).abs().max())
                    for t, rows in expected.items())
        print(f'largest difference from {expect}: {worst:.3g}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
