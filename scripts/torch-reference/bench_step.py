"""Times the reference multi-task step (see scripts/reference-workload.ts) in PyTorch.

Prints one JSON object per workload shape: steps/s for the summed loss (one
backward) and for the per-task gradients (one backward pass through the trunk
per task, what PCGrad-like methods need), best over torch thread counts 1 and 2.
A shape is TASKSxHIDDEN[xINPUTxBATCH]: that many heads cycling through 10-class
cross-entropy, BCE-with-logits and MSE (digit, flag, level, digit2, ...) on a trunk
INPUT -> HIDDEN -> HIDDEN, BATCH rows a step (INPUT 64 and BATCH 256 unless given);
the default is the reference workload, 3x512; 3x64x6x32 is the small tabular model.
Usage:
    /usr/bin/python3 scripts/torch-reference/bench_step.py [seconds-per-measure] [--shape TASKSxHIDDEN ...]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

D, C, B, ROWS = 64, 10, 256, 8192
HEAD_CYCLE = [('digit', 'cross_entropy', C), ('flag', 'bce_with_logits', 1), ('level', 'mse', 1)]
WARMUP_STEPS, WARMUP_SECONDS = 20, 0.3


def shape(text):
    dims = [int(v) for v in text.split('x')]
    if len(dims) == 2:
        dims += [D, B]
    if len(dims) != 4 or not 1 <= dims[0] <= 16 or min(dims[1:]) < 1:
        raise argparse.ArgumentTypeError(f'bad shape {text}: TASKSxHIDDEN[xINPUTxBATCH], tasks 1..16, the rest >= 1')
    return tuple(dims)


def heads(tasks):
    """(name, loss, outputs) per task, as workloadHeads in scripts/reference-workload.ts."""
    out = []
    for t in range(tasks):
        name, loss, outputs = HEAD_CYCLE[t % len(HEAD_CYCLE)]
        rnd = t // len(HEAD_CYCLE)
        out.append((name if rnd == 0 else f'{name}{rnd + 1}', loss, outputs))
    return out


def random_targets(loss):
    if loss == 'cross_entropy':
        return torch.randint(0, C, (ROWS,))
    if loss == 'bce_with_logits':
        return torch.randint(0, 2, (ROWS,)).float()
    return torch.randn(ROWS)


def task_loss(loss, pred, target):
    if loss == 'cross_entropy':
        return F.cross_entropy(pred, target)
    if loss == 'bce_with_logits':
        return F.binary_cross_entropy_with_logits(pred.squeeze(1), target)
    return F.mse_loss(pred.squeeze(1), target)


class Net(nn.Module):
    def __init__(self, tasks, hidden, inputs):
        super().__init__()
        self.kinds = heads(tasks)
        self.trunk = nn.ModuleList([nn.Linear(inputs, hidden), nn.Linear(hidden, hidden)])
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, outputs) for name, _, outputs in self.kinds})

    def forward(self, x):
        for layer in self.trunk:
            x = F.relu(layer(x))
        return x


def measure(tasks, hidden, inputs, batch, per_task, seconds):
    torch.manual_seed(0)
    net = Net(tasks, hidden, inputs)
    x_all = torch.randn(ROWS, inputs)
    targets = {name: random_targets(loss) for name, loss, _ in net.kinds}
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    trunk = list(net.trunk.parameters())

    def step():
        idx = torch.randint(0, ROWS, (batch,))
        opt.zero_grad(set_to_none=True)
        h = net(x_all[idx])
        ls = [task_loss(loss, net.heads[name](h), targets[name][idx]) for name, loss, _ in net.kinds]
        if per_task:
            # each task's gradient of the shared parameters separately, then their sum
            grads = [torch.autograd.grad(l, trunk, retain_graph=True) for l in ls]
            for p, *gs in zip(trunk, *grads):
                p.grad = sum(gs)
            for (name, _, _), l in zip(net.kinds, ls):
                hp = list(net.heads[name].parameters())
                for p, g in zip(hp, torch.autograd.grad(l, hp, retain_graph=True)):
                    p.grad = g
        else:
            sum(ls).backward()
        opt.step()

    # warm-up: WARMUP_STEPS steps, fewer when the steps are slow
    start = time.perf_counter()
    for _ in range(WARMUP_STEPS):
        step()
        if time.perf_counter() - start > WARMUP_SECONDS:
            break
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - start)


def serve():
    """Answers requests on stdin, one per line: `sum|per_task THREADS SECONDS SHAPE`,
    one JSON line each ({"steps_per_second": ...}); lets a caller alternate PyTorch's
    windows with its own, so both see the same machine."""
    for line in sys.stdin:
        kind, threads, seconds, dims = line.split()
        tasks, hidden, inputs, batch = shape(dims)
        torch.set_num_threads(int(threads))
        rate = measure(tasks, hidden, inputs, batch, kind == 'per_task', float(seconds))
        print(json.dumps({'kind': kind, 'threads': int(threads), 'tasks': tasks, 'hidden': hidden,
                          'inputs': inputs, 'batch': batch, 'steps_per_second': rate}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('seconds', nargs='?', type=float, default=2.0, help='timed seconds per measure (default 2)')
    parser.add_argument('--shape', type=shape, action='append', help='TASKSxHIDDEN[xINPUTxBATCH], repeatable (default 3x512)')
    parser.add_argument('--serve', action='store_true', help='answer timing requests from stdin (see serve())')
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    for tasks, hidden, inputs, batch in args.shape or [(3, 512, D, B)]:
        out = {'torch': torch.__version__, 'tasks': tasks, 'hidden': hidden, 'inputs': inputs, 'batch': batch}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            out[f'sum_threads{threads}'] = measure(tasks, hidden, inputs, batch, False, args.seconds)
            out[f'per_task_threads{threads}'] = measure(tasks, hidden, inputs, batch, True, args.seconds)
        out['sum'] = max(out['sum_threads1'], out['sum_threads2'])
        out['per_task'] = max(out['per_task_threads1'], out['per_task_threads2'])
        print(json.dumps(out), flush=True)


main()
