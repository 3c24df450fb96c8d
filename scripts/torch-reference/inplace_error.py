#!/usr/bin/python3
"""Shows that PyTorch rejects the common "stale sequential" recipe
    l1.backward(retain_graph=True); opt.step(); l2.backward(); opt.step()
once the shared trunk has two Linear layers, and accepts it with one.

Run: /usr/bin/python3 scripts/torch-reference/inplace_error.py
The error message is quoted in test/fixtures/torch/README.md.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def recipe(trunk_layers, make_opt):
    torch.manual_seed(0)
    # the fixture model's trunk: Linear(5→7) + relu, Linear(7→6) + tanh (or just Linear(5→6) + tanh)
    if trunk_layers == 2:
        trunk = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6), nn.Tanh())
    else:
        trunk = nn.Sequential(nn.Linear(5, 6), nn.Tanh())
    head1, head2 = nn.Linear(6, 1), nn.Linear(6, 1)
    params = list(trunk.parameters()) + list(head1.parameters()) + list(head2.parameters())
    opt = make_opt(params)
    x, y1, y2 = torch.randn(8, 5), torch.randn(8, 1), torch.randn(8, 1)
    h = trunk(x)
    l1 = F.mse_loss(head1(h), y1)
    l2 = F.mse_loss(head2(h), y2)
    opt.zero_grad()
    l1.backward(retain_graph=True)
    opt.step()
    l2.backward()
    opt.step()


def main():
    print('torch', torch.__version__)
    for name, make_opt in [('SGD', lambda p: torch.optim.SGD(p, lr=0.1)),
                           ('Adam', lambda p: torch.optim.Adam(p, lr=1e-3))]:
        for layers in (1, 2):
            try:
                recipe(layers, make_opt)
                print(f'{name}, trunk with {layers} Linear layer(s): no error')
            except RuntimeError as e:
                print(f'{name}, trunk with {layers} Linear layer(s): RuntimeError:')
                print(str(e))


if __name__ == '__main__':
    main()
