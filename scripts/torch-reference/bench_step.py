"""Times the reference multi-task step (see scripts/reference-workload.ts) in PyTorch.

Prints one JSON object: steps/s for the summed loss (one backward) and for the
per-task gradients (three backward passes through the trunk, what PCGrad-like
methods need), best over torch thread counts 1 and 2. Usage:
    /usr/bin/python3 scripts/torch-reference/bench_step.py [seconds-per-measure]
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
torch.manual_seed(0)
D, H, C, B, ROWS = 64, 512, 10, 256, 8192
x_all = torch.randn(ROWS, D)
cls_all = torch.randint(0, C, (ROWS,))
bin_all = torch.randint(0, 2, (ROWS,)).float()
reg_all = torch.randn(ROWS)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.ModuleList([nn.Linear(D, H), nn.Linear(H, H)])
        self.heads = nn.ModuleDict({'digit': nn.Linear(H, C), 'flag': nn.Linear(H, 1), 'level': nn.Linear(H, 1)})

    def forward(self, x):
        for layer in self.trunk:
            x = F.relu(layer(x))
        return x


def losses(net, idx):
    h = net(x_all[idx])
    return [F.cross_entropy(net.heads['digit'](h), cls_all[idx]),
            F.binary_cross_entropy_with_logits(net.heads['flag'](h).squeeze(1), bin_all[idx]),
            F.mse_loss(net.heads['level'](h).squeeze(1), reg_all[idx])]


def measure(per_task):
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    trunk = list(net.trunk.parameters())

    def step(i):
        idx = torch.randint(0, ROWS, (B,))
        opt.zero_grad(set_to_none=True)
        ls = losses(net, idx)
        if per_task:
            # each task's gradient of the shared parameters separately, then their sum
            grads = [torch.autograd.grad(l, trunk, retain_graph=True) for l in ls]
            for p, *gs in zip(trunk, *grads):
                p.grad = sum(gs)
            for name, l in zip(['digit', 'flag', 'level'], ls):
                hp = list(net.heads[name].parameters())
                for p, g in zip(hp, torch.autograd.grad(l, hp, retain_graph=True)):
                    p.grad = g
        else:
            sum(ls).backward()
        opt.step()

    for i in range(20):
        step(i)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        step(n)
        n += 1
    return n / (time.perf_counter() - start)


out = {'torch': torch.__version__}
for threads in (1, 2):
    torch.set_num_threads(threads)
    out[f'sum_threads{threads}'] = measure(False)
    out[f'per_task_threads{threads}'] = measure(True)
out['sum'] = max(out['sum_threads1'], out['sum_threads2'])
out['per_task'] = max(out['per_task_threads1'], out['per_task_threads2'])
print(json.dumps(out))
