import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../src/cli/config.js';
import { initCommand, type InitResult } from '../../src/cli/init.js';

const dir = mkdtempSync(join(tmpdir(), 'multitask-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * 60 cars: mpg and co2 are regression targets with missing labels (12 and 6 of
 * 60: at least 5%), horsepower a feature missing once, cylinders an integer
 * class column, origin a 3-class text column, score_label a numeric column named
 * like a target.
 */
function carsTable(): string {
  const lines = ['mpg,cylinders,displacement,horsepower,weight,origin,co2,score_label'];
  for (let i = 0; i < 60; i++) {
    lines.push([i % 5 === 0 ? '' : 18.5 + (i % 11) * 1.3, [4, 6, 8][i % 3], 100 + 3 * i, i === 7 ? '' : 80 + i, 2000 + 20 * i,
      ['usa', 'europe', 'japan'][i % 3], i % 10 === 3 ? '' : 150.25 + i, 1000 + 7 * i].join(','));
  }
  return `${lines.join('\n')}\n`;
}
const cars = join(dir, 'cars.csv');
writeFileSync(cars, carsTable());

/** Each printed column line's role, read back the way a user reads it. */
function printedRoles(result: InitResult): Map<string, string> {
  const roles = new Map<string, string>();
  for (const g of result.guesses) {
    const line = result.lines.find((l) => l.startsWith(`  ${g.column} `))!;
    roles.set(g.column, line.slice(line.indexOf('→ ') + 2));
  }
  return roles;
}

/** Every printed role is what the written file says, by a reading independent of init's own. */
function expectPrintedIsWritten(result: InitResult, path: string): void {
  const written = readConfigFile(path);
  const features = written.data && written.data.kind !== 'arrays' ? written.data.features ?? [] : [];
  for (const [column, role] of printedRoles(result)) {
    const task = written.tasks?.find((t) => t.column === column);
    const kind = result.guesses.find((g) => g.column === column)!.kind;
    if (role.startsWith('task ')) {
      expect(task, column).toBeDefined();
      expect(role, column).toContain(`task ${task!.name ?? task!.column}, ${task!.loss}`);
    } else if (role === 'feature (one-hot)') {
      expect(features.includes(`${column}:category`) || (features.includes(column) && kind === 'text'), column).toBe(true);
    } else if (role.startsWith('feature (numeric')) {
      expect(features, column).toContain(column);
      expect(kind, column).not.toBe('text');
    } else {
      expect(role, column).toBe('ignored');
      expect(task ?? features.find((f) => f === column || f === `${column}:category`), column).toBeUndefined();
    }
  }
}

describe('init writes what it prints', () => {
  it('--targets: an integer class column left as a feature is written one-hot, as printed; dropped rows are counted', () => {
    const out = join(dir, 'targets.json');
    const result = initCommand(cars, out, { targets: ['mpg', 'origin'] });
    expect(printedRoles(result).get('cylinders')).toBe('feature (one-hot)');
    const written = JSON.parse(readFileSync(out, 'utf8'));
    expect(written.data.features).toContain('cylinders:category');
    expect(written.data.features).not.toContain('cylinders');
    expectPrintedIsWritten(result, out);
    // the given targets are not questioned
    expect(written.tasks.map((t: { column: string }) => t.column)).toEqual(['mpg', 'origin']);
    expect(written.tasks.every((t: { comment?: string }) => t.comment === undefined)).toBe(true);
    expect(result.questions).toEqual([]);
    // co2 (6 missing) and horsepower (1) are features here: rows 3, 7, 13, ..., 53 and 7 miss one
    expect(result.droppedRows).toBe(6 + 1);
    expect(result.lines).toContain('7 of 60 rows miss a feature value (horsepower 1, co2 6): training will leave them out');
  });

  it('without --targets: targets it cannot be sure of are proposed as questions in the file and on the console', () => {
    const out = join(dir, 'guessed.json');
    const result = initCommand(cars, out, {});
    expectPrintedIsWritten(result, out);
    const written = readConfigFile(out); // the schema accepts a task's comment
    const tasks = written.tasks!;
    expect(tasks.map((t) => t.column)).toEqual(['mpg', 'cylinders', 'origin', 'co2', 'score_label']);
    expect(tasks.find((t) => t.column === 'mpg')).toMatchObject({ loss: 'mse', comment: expect.stringMatching(/12 of 60 values are missing.*is "mpg" a target\? Keep it, or delete this task and add the column to data\.features/) });
    expect(tasks.find((t) => t.column === 'co2')).toMatchObject({ loss: 'mse', comment: expect.stringMatching(/6 of 60 values are missing/) });
    expect(tasks.find((t) => t.column === 'score_label')).toMatchObject({ loss: 'mse', comment: expect.stringMatching(/its name reads like a target/) });
    expect(tasks.every((t) => typeof t.comment === 'string')).toBe(true);
    // every question is printed, under a heading that says where it is written
    expect(result.lines).toContain(`guessed targets, to confirm (each task's "comment" in ${out} asks the same):`);
    expect(result.questions).toHaveLength(5);
    for (const q of result.questions) expect(result.lines).toContain(q);
    // and each printed question is the one written into its task's comment
    for (const t of tasks) expect(result.questions.some((q) => q.includes(t.comment!)), t.column).toBe(true);
    // horsepower, missing once (under 5%), stays a feature, and its row is counted
    expect(written.data && written.data.kind !== 'arrays' && written.data.features).toEqual(['displacement', 'horsepower', 'weight']);
    expect(result.lines).toContain('1 of 60 rows miss a feature value (horsepower 1): training will leave them out');
  });

  it('a table whose every numeric column misses values keeps them as features and says what that costs', () => {
    const path = join(dir, 'sparse.csv');
    writeFileSync(path, `kind,a,b\n${Array.from({ length: 20 }, (_, i) => `${i % 2 ? 'x' : 'y'},${i % 4 === 0 ? '' : i},${i % 5 === 1 ? '' : 2 * i + 0.5}`).join('\n')}\n`);
    const out = join(dir, 'sparse.json');
    const result = initCommand(path, out, {});
    expectPrintedIsWritten(result, out);
    const written = readConfigFile(out);
    expect(written.tasks!.map((t) => t.column)).toEqual(['kind']);
    expect(result.lines).toContain('8 of 20 rows miss a feature value (a 5, b 4): training will leave them out');
  });
});
