import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTrainer } from '../helpers/trainers.js';


describe('data sources', () => {
  it('synthetic tasks with negative correlation conflict more than positively correlated ones', async () => {
    const conflicts: number[] = [];
    for (const correlation of [-0.9, 0.9]) {
      const t = await createTrainer({
        data: { kind: 'synthetic', synthetic: { rows: 800, correlation } }, strategy: 'upgrad', workers: 2, batchSize: 64,
        model: { trunk: [16], activation: 'relu' },
      });
      const [report] = await t.fit({ epochs: 2 });
      expect(Object.keys(report.validation)).toEqual(['task_0', 'task_1']);
      conflicts.push(report.diagnostics!.cosines[1]);
    }
    expect(conflicts[0]).toBeLessThan(conflicts[1]);
  });

  it('tasks that bring their own rows (JSON Lines and CSV) train together', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-parts-'));
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.csv');
    writeFileSync(a, Array.from({ length: 40 }, (_, i) => JSON.stringify({ x: i % 5, z: i % 3, big: i % 5 > 2 ? 'yes' : 'no' })).join('\n'));
    writeFileSync(b, `x,z,size\n${Array.from({ length: 40 }, (_, i) => `${i % 4},${i % 7},${(i % 4) * 1.5}`).join('\n')}\n`);
    const t = await createTrainer({
      data: { path: a },
      tasks: [{ name: 'big', column: 'big', loss: 'bce_with_logits' }, { name: 'size', column: 'size', loss: 'mse', path: b }],
      workers: 1, batchSize: 16, model: { trunk: [8], activation: 'tanh' },
    });
    expect(t.dataset.rows).toBe(80);
    expect(t.dataset.tasks.map((d) => d.labelled)).toEqual([40, 40]);
    const reports = await t.fit({ epochs: 3 });
    expect(reports[2].train.big.labelled + reports[2].train.size.labelled).toBe(t.dataset.train.length);
  });
});
