import { describe, expect, it } from 'vitest';
import { buildLayout } from '../../src/model/layout.js';
import { mixtureStructure } from '../../src/model/mixture-layout.js';
import { SPECS } from '../helpers/mixture-specs.js';

describe('layout', () => {
  it('names tensors as a PyTorch module would, and splits PLE into shared and per-task segments', () => {
    const mmoe = buildLayout(SPECS.mmoe).entries.map((e) => e.name);
    expect(mmoe).toContain('experts.2.1.weight');
    expect(mmoe).toContain('gates.c.bias');
    expect(mmoe).toContain('towers.c.1.weight');
    const ple = buildLayout(SPECS.ple);
    const segmentOf = (name: string) => {
      const e = ple.entries.find((x) => x.name === name)!;
      if (e.offset < ple.trunk.offset + ple.trunk.length) return 'shared';
      return SPECS.ple.tasks[ple.heads.findIndex((s) => e.offset >= s.offset && e.offset < s.offset + s.length)].name;
    };
    expect(segmentOf('shared_experts.2.1.0.weight')).toBe('shared');
    expect(segmentOf('shared_gates.1.weight')).toBe('shared');
    expect(segmentOf('experts.b.1.0.0.weight')).toBe('shared'); // feeds the shared gate of level 1
    expect(segmentOf('gates.b.0.weight')).toBe('shared'); // feeds b's level-1 experts, hence the shared gate
    expect(segmentOf('gates.b.1.weight')).toBe('b');
    expect(segmentOf('experts.b.2.1.0.bias')).toBe('b');
    expect(segmentOf('gates.b.2.weight')).toBe('b');
    expect(segmentOf('towers.b.1.weight')).toBe('b');
    expect(ple.entries.find((e) => e.name === 'shared_gates.0.weight')!.shape).toEqual([2 * 3 + 2, 4]);
    expect(ple.entries.find((e) => e.name === 'gates.a.1.weight')!.shape).toEqual([2 + 2, 3]);
  });
});


describe('structure', () => {
  it('orders a gate\'s experts: its task\'s own first, then the shared; the shared gate weighs all', () => {
    const s = mixtureStructure(SPECS.ple);
    const level = s.levels[0];
    const names = (experts: number[]) => experts.map((e) => level.experts[e].name);
    expect(names(level.gates[1].experts)).toEqual(['experts.b.0.0', 'experts.b.0.1', 'shared_experts.0.0', 'shared_experts.0.1']);
    expect(level.gates.at(-1)!.linear.name).toBe('shared_gates.0');
    expect(level.gates.at(-1)!.experts).toHaveLength(3 * 2 + 2);
    expect(s.levels[2].gates).toHaveLength(3); // no shared gate at the last level
    expect(s.width).toBe(3);
    const mmoe = mixtureStructure(SPECS.mmoe);
    expect(mmoe.levels).toHaveLength(1);
    expect(mmoe.levels[0].gates.map((g) => g.linear.name)).toEqual(['gates.a', 'gates.b', 'gates.c']);
    expect(mmoe.towers[2].map((l) => [l.name, l.outWidth, l.activation])).toEqual([['towers.c.0', 2, 'sigmoid'], ['towers.c.1', 3, 'identity']]);
  });
});
