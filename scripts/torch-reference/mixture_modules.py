"""PyTorch modules with exactly multitask's mixture-of-experts tensor names, so a
multitask weights file of an `mmoe` or `ple` model loads with
`load_state_dict(strict=True)` (the README shows these modules).

    MMoE: experts.<e>.<j>, gates.<task>, towers.<task>.<j>
    PLE:  shared_experts.<level>.<e>.<j>, experts.<task>.<level>.<e>.<j>,
          gates.<task>.<level>, shared_gates.<level>, towers.<task>.<j>

j indexes an MLP's Linear layers; a tower's last Linear is its output layer
(followed by a sigmoid for a bce task). Softmax gates weigh the experts in this
order: a task gate its task's own experts, then the shared ones; PLE's shared
gate every task's experts (task order), then the shared ones.
"""
import torch
from torch import nn
import torch.nn.functional as F

ACTIVATIONS = {
    'identity': lambda x: x,
    'relu': F.relu,
    'tanh': torch.tanh,
    'sigmoid': torch.sigmoid,
    'gelu': F.gelu,  # exact (erf) form, as multitask computes it
}


def mlp(width, layers):
    """A ModuleList of Linear layers of the given {units} widths from `width` inputs."""
    out = nn.ModuleList()
    for layer in layers:
        out.append(nn.Linear(width, layer['units']))
        width = layer['units']
    return out


def run(linears, activations, x):
    for linear, act in zip(linears, activations):
        x = ACTIVATIONS[act](linear(x))
    return x


def mix(gate, x, experts):
    """Σ_e softmax(gate(x))_e · experts[e]."""
    weights = torch.softmax(gate(x), dim=-1)
    return (weights.unsqueeze(-1) * torch.stack(experts, dim=1)).sum(dim=1)


class Towers(nn.Module):
    """Shared by both models: towers.<task>.<j>."""

    def __init__(self, spec, width):
        super().__init__()
        m = spec['mixture']
        self.spec = spec
        self.towers = nn.ModuleDict({t['name']: mlp(width, m['tower'] + [{'units': t['outputs']}]) for t in spec['tasks']})

    def tower(self, task, h):
        acts = [layer['activation'] for layer in self.spec['mixture']['tower']] + ['sigmoid' if task['loss'] == 'bce' else 'identity']
        return run(self.towers[task['name']], acts, h)


class MMoE(Towers):
    def __init__(self, spec):
        m = spec['mixture']
        super().__init__(spec, m['expert'][-1]['units'])
        d = spec['inputWidth']
        self.experts = nn.ModuleList([mlp(d, m['expert']) for _ in range(m['experts'])])
        self.gates = nn.ModuleDict({t['name']: nn.Linear(d, m['experts']) for t in spec['tasks']})

    def forward(self, x):
        acts = [layer['activation'] for layer in self.spec['mixture']['expert']]
        experts = [run(e, acts, x) for e in self.experts]
        return {t['name']: self.tower(t, mix(self.gates[t['name']], x, experts)) for t in self.spec['tasks']}


class PLE(Towers):
    def __init__(self, spec):
        m = spec['mixture']
        width = m['expert'][-1]['units']
        super().__init__(spec, width)
        levels, shared, own = m['levels'], m['experts'], m['taskExperts']
        names = [t['name'] for t in spec['tasks']]
        d = [spec['inputWidth']] + [width] * (levels - 1)  # each level's input width
        self.shared_experts = nn.ModuleList([nn.ModuleList([mlp(d[l], m['expert']) for _ in range(shared)]) for l in range(levels)])
        self.experts = nn.ModuleDict({n: nn.ModuleList([nn.ModuleList([mlp(d[l], m['expert']) for _ in range(own)])
                                                        for l in range(levels)]) for n in names})
        self.gates = nn.ModuleDict({n: nn.ModuleList([nn.Linear(d[l], own + shared) for l in range(levels)]) for n in names})
        self.shared_gates = nn.ModuleList([nn.Linear(d[l], len(names) * own + shared) for l in range(levels - 1)])

    def forward(self, x):
        m = self.spec['mixture']
        acts = [layer['activation'] for layer in m['expert']]
        names = [t['name'] for t in self.spec['tasks']]
        inputs, shared = {n: x for n in names}, x
        for l in range(m['levels']):
            own = {n: [run(e, acts, inputs[n]) for e in self.experts[n][l]] for n in names}
            common = [run(e, acts, shared) for e in self.shared_experts[l]]
            nxt = {n: mix(self.gates[n][l], inputs[n], own[n] + common) for n in names}
            if l < m['levels'] - 1:
                shared = mix(self.shared_gates[l], shared, [e for n in names for e in own[n]] + common)
            inputs = nxt
        return {t['name']: self.tower(t, inputs[t['name']]) for t in self.spec['tasks']}


def mixture_module(spec):
    """The module of a multitask model spec with a `mixture` (its `multitask.model` metadata)."""
    return {'mmoe': MMoE, 'ple': PLE}[spec['mixture']['architecture']](spec)
