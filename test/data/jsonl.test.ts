import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../src/data/dataset-from-table.js';
import { parseJsonl, tableFromJsonl } from '../../src/data/jsonl.js';
import { loadTable } from '../../src/data/load-table.js';
import { rowLocation, tableRows } from '../../src/data/table.js';
import { userErrorMessage as message } from '../helpers/user-error.js';

const dir = mkdtempSync(join(tmpdir(), 'multitask-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}


describe('tableFromJsonl', () => {
  it('reads one object per line; columns are the union of keys in first-seen order', () => {
    const path = file('a.jsonl', [
      '{"island": "Biscoe", "length": 40.5, "kind": "A"}',
      '',
      '   ',
      '{"length": 41, "island": "Dream", "sex": "F"}',
      '{"island": "Dream", "length": null, "kind": "NA", "sex": true}',
      '{"kind": "B", "extra": " x "}',
    ].join('\n') + '\n');
    const t = tableFromJsonl(path);
    expect(t.columns).toEqual(['island', 'length', 'kind', 'sex', 'extra']);
    expect(tableRows(t)).toEqual([
      ['Biscoe', 40.5, 'A', null, null],
      ['Dream', 41, null, 'F', null],
      ['Dream', null, null, 'true', null],
      [null, null, 'B', null, 'x'],
    ]);
    expect(t.lines).toEqual([1, 4, 5, 6]); // blank lines 2 and 3 skipped, physical line numbers kept
    expect(t.lineKind).toBe('line');
    expect(rowLocation(t, 1)).toBe(`${path} line 4`);
  });

  it('handles CRLF, a BOM, no final newline and non-ASCII text', () => {
    const path = file('b.ndjson', '\ufeff{"név": "Ödön"}\r\n\r\n{"név": "Zoë", "n": 2}');
    const t = tableFromJsonl(path);
    expect(t.columns).toEqual(['név', 'n']);
    expect(tableRows(t)).toEqual([['Ödön', null], ['Zoë', 2]]);
    expect(t.lines).toEqual([1, 3]);
  });

  it('names the file, line and JSON problem of a malformed line', () => {
    const path = file('bad.jsonl', '{"a": 1}\n{"a": 2}\n\n{"a": 3,}\n{"a": 4}\n');
    const m = message(() => tableFromJsonl(path));
    expect(m.startsWith(`${path} line 4: not valid JSON (`)).toBe(true);
    expect(m).toMatch(/JSON/);
    expect(m.endsWith('): "{\\"a\\": 3,}"')).toBe(true);
    const trunc = file('trunc.jsonl', '{"a": 1}\n{"a": "unterminated\n');
    expect(message(() => tableFromJsonl(trunc))).toContain(`${trunc} line 2: not valid JSON (`);
  });

  it('rejects lines that are not objects', () => {
    for (const [line, got] of [['[1, 2]', 'an array'], ['3', 'number 3'], ['"x"', '"x"'], ['null', 'null']]) {
      const path = file('notobj.jsonl', `{"a": 1}\n${line}\n`);
      expect(message(() => tableFromJsonl(path))).toBe(
        `${path} line 2: expected a JSON object of column: value (one record per line), got ${got}`);
    }
  });

  it('rejects nested values, naming the line and the column', () => {
    const path = file('nested.jsonl', '{"a": 1}\n{"a": {"b": 2}}\n');
    expect(message(() => tableFromJsonl(path))).toBe(
      `${path} line 2, column "a": an object is not a value (expected a number, a string or null)`);
  });

  it('rejects invalid UTF-8, naming the line', () => {
    const path = file('latin1.jsonl', Buffer.concat([Buffer.from('{"a": 1}\n{"a": "'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    expect(message(() => tableFromJsonl(path))).toBe(`${path} line 2: not valid UTF-8 text (re-save the file as UTF-8)`);
  });

  it('names a missing file', () => {
    const path = join(dir, 'none.jsonl');
    expect(message(() => tableFromJsonl(path))).toBe(`cannot read JSON Lines file ${path}: no such file`);
  });

  it('parses text given directly, and an empty file gives an empty table', () => {
    expect(tableRows(parseJsonl('{"x": 1}\n', 'mem'))).toEqual([[1]]);
    expect(parseJsonl('', 'mem')).toMatchObject({ columns: [], rowCount: 0 });
  });
});

describe('loadTable and loadDataset with JSON Lines', () => {
  const lines = [
    { x: 1, y: 'a', z: 1.5 }, { x: 2, y: 'b', z: 2.5 }, { x: 3, y: 'a' }, { x: 4, y: 'b', z: 0.5 }, { x: 5, y: 'a', z: 3 },
  ].map((r) => JSON.stringify(r)).join('\n');

  it('picks JSON Lines by extension (.jsonl, .ndjson, any case)', () => {
    for (const name of ['d.jsonl', 'd.ndjson', 'D.JSONL']) {
      const t = loadTable(file(name, lines));
      expect(t.lineKind).toBe('line');
      expect(t.columns).toEqual(['x', 'y', 'z']);
      expect(tableRows(t).length).toBe(5);
    }
  });

  it('builds a Dataset; missing keys are missing labels, errors name the line', () => {
    const ds = loadDataset(file('d.jsonl', lines), {
      tasks: [{ name: 'y', column: 'y', loss: 'bce_with_logits' }, { name: 'z', column: 'z', loss: 'mse' }],
      validationFraction: 0,
    });
    expect(ds.rows).toBe(5);
    expect(ds.tasks[1].labelled).toBe(4);
    expect(ds.tasks[1].targets[2]).toBeNaN();
    const bad = file('bad.jsonl', lines + '\n{"x": "six", "y": "a", "z": 1}\n');
    expect(message(() => loadDataset(bad, { tasks: [{ name: 'y', column: 'y', loss: 'bce_with_logits' }] }))).toBe(
      `${bad} line 6, column "x": "six" is not a number (the column is numeric)`);
  });
});
