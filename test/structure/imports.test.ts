import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Import, findCycles, importsOf, parseImports } from './imports.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const graph = (pairs: [string, string][]): Import[] => pairs.map(([from, to]) => ({ from, to, typeOnly: false, line: 1 }));

describe('import graph', () => {
  it('reads every kind of relative import, type-only ones marked, comments skipped', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      "export { c } from './c.js';",
      "export type { D } from './d.js';",
      "import './side-effect.js';",
      "const e = await import('./e.js');",
      "import {\n  f,\n  g,\n} from './fg.js';",
      "import { z } from 'zod';",
      "// import { x } from './commented.js';",
      "/* export { y } from './commented-too.js'; */",
    ].join('\n');
    expect(parseImports('src/data/x.ts', text).map((i) => [i.to, i.typeOnly])).toEqual([
      ['src/data/a.ts', false], ['src/b/b.ts', true], ['src/data/c.ts', false], ['src/data/d.ts', true],
      ['src/data/side-effect.ts', false], ['src/data/e.ts', false], ['src/data/fg.ts', false],
    ]);
  });

  it('finds a cycle when there is one', () => {
    expect(findCycles(graph([['a.ts', 'b.ts'], ['b.ts', 'c.ts'], ['c.ts', 'a.ts'], ['c.ts', 'd.ts']]))).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
    expect(findCycles(graph([['a.ts', 'a.ts']]))).toEqual([['a.ts', 'a.ts']]);
    expect(findCycles(graph([['a.ts', 'b.ts'], ['b.ts', 'c.ts'], ['a.ts', 'c.ts']]))).toEqual([]);
  });

  it('src/ and workers/ have no import cycle', () => {
    const imports = importsOf(root, ['src', 'workers']);
    expect(imports.length).toBeGreaterThan(100);
    expect(findCycles(imports.filter((i) => !i.typeOnly)).map((c) => c.join(' → '))).toEqual([]);
    // with type-only imports (erased at run time) the one known cycle, and no new one
    expect(findCycles(imports).map((c) => c.join(' → '))).toEqual([
      'src/protocol/mailbox.ts → src/protocol/messages.ts → src/protocol/mailbox.ts',
    ]);
  });
});
