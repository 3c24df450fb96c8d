import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Import, importsOf } from './imports.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * DESIGN.md's layer order: a folder of src/ imports only folders to its left.
 * optim and strategies share one place (they may import each other; the
 * cycle test still forbids a cycle).
 */
const LAYERS: readonly (readonly string[])[] = [
  ['util'], ['kernels'], ['model'], ['optim', 'strategies'], ['data'], ['protocol'], ['trainer'], ['report'], ['cli'],
];
/** workers/ sees the compute side only, never the trainer. */
const WORKERS_MAY_IMPORT = ['util', 'kernels', 'model', 'data', 'protocol'];

/** `src/data/x.ts` → `data`, `workers/x.ts` → `workers`, `src/index.ts` → `` (the public API). */
function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'src') return parts.length > 2 ? parts[1] : '';
  return parts[0];
}

function rank(folder: string): number {
  return LAYERS.findIndex((l) => l.includes(folder));
}

/** The folders a folder may import (its own not counted). */
function allowed(folder: string): string[] {
  if (folder === 'workers') return WORKERS_MAY_IMPORT;
  const r = rank(folder);
  return LAYERS.flat().filter((f) => f !== folder && rank(f) <= r);
}

/** Imports that break the order, as `from:line → to`. */
function violations(imports: readonly Import[]): string[] {
  return imports.filter((i) => {
    const a = folderOf(i.from), b = folderOf(i.to);
    if (a === '' || a === b) return false; // src/index.ts exports from every folder
    return !allowed(a).includes(b);
  }).map((i) => `${i.from}:${i.line} → ${i.to}`);
}

/** Each folder's entry module; it opens with what the folder holds and a `May import:` line. */
const ENTRY_MODULES: Record<string, string> = {
  util: 'src/util/errors.ts',
  kernels: 'src/kernels/index.ts',
  model: 'src/model/model.ts',
  optim: 'src/optim/index.ts',
  strategies: 'src/strategies/index.ts',
  data: 'src/data/dataset.ts',
  protocol: 'src/protocol/codec.ts',
  trainer: 'src/trainer/trainer.ts',
  report: 'src/report/index.ts',
  cli: 'src/cli/main.ts',
  workers: 'workers/task-worker.ts',
};

describe('layering', () => {
  const imports = importsOf(root, ['src', 'workers']);

  it('knows every folder of src/', () => {
    const folders = new Set(imports.map((i) => folderOf(i.from)).filter((f) => f !== '' && f !== 'workers'));
    expect([...folders].filter((f) => rank(f) < 0)).toEqual([]);
  });

  it('no module imports a folder to its right (type-only imports included)', () => {
    expect(violations(imports)).toEqual([]);
  });

  it('catches an import to the right, and a worker importing the trainer', () => {
    const bad: Import[] = [
      { from: 'src/trainer/run-dir.ts', to: 'src/report/run-format.ts', typeOnly: false, line: 3 },
      { from: 'src/data/x.ts', to: 'src/protocol/y.ts', typeOnly: true, line: 1 },
      { from: 'workers/task-worker.ts', to: 'src/trainer/trainer.ts', typeOnly: false, line: 9 },
      { from: 'src/strategies/losses.ts', to: 'src/optim/adam.ts', typeOnly: false, line: 2 },
      { from: 'src/index.ts', to: 'src/cli/main.ts', typeOnly: false, line: 1 },
    ];
    expect(violations(bad)).toEqual([
      'src/trainer/run-dir.ts:3 → src/report/run-format.ts',
      'src/data/x.ts:1 → src/protocol/y.ts',
      'workers/task-worker.ts:9 → src/trainer/trainer.ts',
    ]);
  });

  it("each folder's entry module opens with what it may import, as the rule says", () => {
    for (const [folder, file] of Object.entries(ENTRY_MODULES)) {
      const text = readFileSync(join(root, file), 'utf8');
      const header = /^\/\*[\s\S]*?\*\//.exec(text)?.[0] ?? '';
      expect(header, file).toContain(folder === 'workers' ? ' * workers/:' : ` * src/${folder}/:`);
      const line = /May import: ([^.\n]*)\./.exec(header)?.[1];
      const want = allowed(folder);
      expect(line, file).toBe(want.length > 0 ? want.join(', ') : 'no other folder');
    }
  });
});
