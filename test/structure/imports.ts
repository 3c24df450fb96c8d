/**
 * The import graph of src/ and workers/, read as text (every relative
 * `import … from`, `export … from`, `import '…'` and `import('…')`), for the
 * structure tests: no import cycles, and each folder imports only the folders
 * to its left in DESIGN.md's layer order.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface Import {
  /** Importing file, relative to the repository root, e.g. `src/data/table.ts`. */
  from: string;
  /** Imported file, relative to the root, `.js` mapped to `.ts`. */
  to: string;
  /** `import type` / `export type` (erased at run time). */
  typeOnly: boolean;
  line: number;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** The relative imports in one file's text; `file` is its path relative to the root. */
export function parseImports(file: string, text: string): Import[] {
  const out: Import[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/\/\/[^\n]*/g, '');
  for (const m of code.matchAll(IMPORT)) {
    const spec = m[2] ?? m[3];
    const to = join(dirname(file), spec).replace(/\.js$/, '.ts');
    out.push({ from: file, to, typeOnly: Boolean(m[1]), line: code.slice(0, m.index).split('\n').length });
  }
  return out;
}

/** Every `.ts` file below `dir` (relative to `root`), sorted. */
export function sourceFiles(root: string, dir: string): string[] {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => {
    const p = join(d, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [relative(root, p)] : [];
  });
  return walk(resolve(root, dir)).sort();
}

/** The relative imports of every `.ts` file below the given folders. */
export function importsOf(root: string, dirs: readonly string[]): Import[] {
  return dirs.flatMap((d) => sourceFiles(root, d)).flatMap((f) => parseImports(f, readFileSync(join(root, f), 'utf8')));
}

/** The import cycles (each as a file path that returns to its start), one per strongly connected group. */
export function findCycles(imports: readonly Import[]): string[][] {
  const edges = new Map<string, string[]>();
  for (const i of imports) {
    if (!edges.has(i.from)) edges.set(i.from, []);
    edges.get(i.from)!.push(i.to);
  }
  // Tarjan's strongly connected components; a component of two or more files is a cycle
  const index = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); group.push(w); } while (w !== v);
      const selfLoop = (edges.get(v) ?? []).includes(v);
      if (group.length > 1 || selfLoop) groups.push(group);
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return groups.map((g) => cyclePath(new Set(g), edges, g.sort()[0]));
}

/** One path start → … → start inside a strongly connected group (breadth-first, so a shortest one). */
function cyclePath(group: Set<string>, edges: Map<string, string[]>, start: string): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of edges.get(v) ?? []) {
      if (!group.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
    }
  }
  return [start, start];
}
