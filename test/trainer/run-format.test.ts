import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MAX_LINE_BYTES, metricsLine, readMetrics, validateRecord, validateSummary, type MetricsRecord,
} from '../../src/trainer/run-format.js';

const dir = mkdtempSync(join(tmpdir(), 'multitask-run-format-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(text: string | Buffer) {
  const path = join(dir, `m${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(path, text);
  const records: MetricsRecord[] = [];
  const result = await readMetrics(path, (r) => records.push(r));
  return { ...result, records };
}

describe('metrics records', () => {
  it('round-trips records, non-finite numbers as null → NaN', () => {
    const step: MetricsRecord = {
      type: 'step', step: 3, epoch: 0, losses: { a: NaN, b: 0.5 }, weights: { a: 1 }, cosines: { 'a|b': -0.25 },
      norms: { a: 2 }, conflicts: 1, timing: { compute: 1, transport: 2, reduce: 3, combine: 4, optimizer: 5, idle: 6, total: 21 },
    };
    const line = metricsLine(step);
    expect(line).toContain('"a":null');
    const back = validateRecord(JSON.parse(line)) as any;
    expect(back.losses.a).toBeNaN();
    expect({ ...back, losses: { ...back.losses } }).toEqual({ ...step, losses: { a: NaN, b: 0.5 }, weights: { a: 1 }, cosines: { 'a|b': -0.25 }, norms: { a: 2 } });
    const ev: MetricsRecord = { type: 'eval', epoch: 1, step: 20, split: 'validation', tasks: { a: { loss: 1, metric: 0.9, metricName: 'accuracy' } } };
    expect(JSON.parse(JSON.stringify(validateRecord(JSON.parse(metricsLine(ev)))))).toEqual(ev);
  });

  it('names the field of a malformed record', () => {
    const bad: [unknown, RegExp][] = [
      [[1], /the line is \[1\], expected a JSON object/],
      [{ type: 'step', step: -1, epoch: 0, losses: {} }, /step is -1/],
      [{ type: 'step', step: 1, epoch: 0, losses: { a: 'x' } }, /losses\.a is "x", expected a number/],
      [{ type: 'step', step: 1, epoch: 0, losses: {}, timing: [] }, /timing is \[\]/],
      [{ type: 'step', step: 1, epoch: 0 }, /losses is undefined/],
      [{ type: 'eval', step: 1, epoch: 0, split: 'test', tasks: {} }, /split is "test"/],
      [{ type: 'eval', step: 1, epoch: 0, split: 'train', tasks: { a: { loss: 1, metric: 1, metricName: 'f1' } } }, /tasks\.a\.metricName is "f1", expected one of accuracy, rmse/],
      [{ type: 7 }, /type is 7/],
    ];
    for (const [value, message] of bad) expect(() => validateRecord(value)).toThrow(message);
    expect(validateRecord({ type: 'checkpoint' })).toBeNull();
  });

  it('keeps optional fields optional and drops unknown timing parts', () => {
    const r = validateRecord({ type: 'step', step: 1, epoch: 0, losses: { a: 1 }, timing: { compute: 1, gpu: 9 }, extra: true }) as any;
    expect(r.weights).toBeUndefined();
    expect(r.timing).toEqual({ compute: 1 });
    expect(r.extra).toBeUndefined();
  });

  it('treats __proto__ keys as data', () => {
    const r = validateRecord(JSON.parse('{"type":"step","step":1,"epoch":0,"losses":{"__proto__":1,"polluted":2}}')) as any;
    expect(Object.keys(r.losses)).toEqual(['__proto__', 'polluted']);
    expect(({} as any).polluted).toBeUndefined();
    const s = validateSummary(JSON.parse('{"__proto__":{"polluted":1},"name":"n","strategy":"sum","tasks":[],"steps":0,"seconds":0,"stepsPerSecond":0}'));
    expect(s.name).toBe('n');
    expect(({} as any).polluted).toBeUndefined();
  });

  it('validates summaries', () => {
    const good = { name: 'r', strategy: 'sum', tasks: [{ name: 'a', metricName: 'rmse', bestValidation: null, finalValidation: 2 }], steps: 3, seconds: 1, stepsPerSecond: 3, epochs: 2 };
    const s = validateSummary(good);
    expect(s.tasks[0].bestValidation).toBeNull();
    expect(s.epochs).toBe(2);
    expect(() => validateSummary({ ...good, tasks: [{ name: 'a', metricName: 'auc' }] })).toThrow(/summary\.json: tasks\[0\]\.metricName is "auc"/);
    expect(() => validateSummary({ ...good, steps: 1.5 }, 'runs/x/summary.json')).toThrow(/^runs\/x\/summary\.json: steps is 1\.5/);
  });
});

describe('readMetrics', () => {
  const line = (step: number) => metricsLine({ type: 'step', step, epoch: 0, losses: { a: step } });

  it('reads CRLF, blank lines and a last line without newline', async () => {
    const r = await read(`${line(1)}\r\n\r\n${line(2)}\n   \n${line(3)}`);
    expect(r.records.map((x) => x.step)).toEqual([1, 2, 3]);
    expect(r.skipped).toBe(0);
  });

  it('skips malformed and truncated lines with numbered warnings', async () => {
    const r = await read(`${line(1)}\n{"type":"step",\n${line(3)}\n\u0000\u00ff garbage\n${line(5)}\n${line(6).slice(0, 20)}`);
    expect(r.records.map((x) => x.step)).toEqual([1, 3, 5]);
    expect(r.skipped).toBe(3);
    expect(r.warnings).toEqual(['metrics.jsonl line 2: not valid JSON', 'metrics.jsonl line 4: not valid JSON', 'metrics.jsonl line 6: not valid JSON']);
  });

  it('skips an overlong line without buffering it, across chunk boundaries', async () => {
    const long = `{"type":"step","step":2,"epoch":0,"losses":{"a":"${'x'.repeat(MAX_LINE_BYTES + 100_000)}"}}`;
    const r = await read(`${line(1)}\n${long}\n${line(3)}\n${'y'.repeat(MAX_LINE_BYTES + 5)}`);
    expect(r.records.map((x) => x.step)).toEqual([1, 3]);
    expect(r.warnings).toEqual([`metrics.jsonl line 2: longer than ${MAX_LINE_BYTES} bytes`, `metrics.jsonl line 4: longer than ${MAX_LINE_BYTES} bytes`]);
  });

  it('counts every skipped line but keeps only the first warnings', async () => {
    const r = await read(Array.from({ length: 50 }, () => 'nope').join('\n'));
    expect(r.skipped).toBe(50);
    expect(r.warnings).toHaveLength(20);
  });

  it('reads multi-byte UTF-8 split across chunks', async () => {
    const name = 'é'.repeat(40_000);
    const r = await read(metricsLine({ type: 'step', step: 1, epoch: 0, losses: { [name]: 1 } }) + '\n');
    expect(Object.keys((r.records[0] as any).losses)).toEqual([name]);
  });
});

describe('readMetrics on arbitrary input (fast-check)', () => {
  it('never throws: every line is a record, ignored, or a counted warning', async () => {
    const line = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.record({ type: fc.constantFrom('step', 'eval', 'x'), step: fc.jsonValue(), epoch: fc.jsonValue(), losses: fc.jsonValue(),
        split: fc.constantFrom('train', 'validation'), tasks: fc.jsonValue(), timing: fc.jsonValue() }, { requiredKeys: ['type'] })
        .map((v) => JSON.stringify(v)),
      fc.string(),
    );
    await fc.assert(fc.asyncProperty(fc.array(line, { maxLength: 20 }), async (lines) => {
      const text = lines.join('\n');
      const r = await read(text);
      expect(r.records.length + r.skipped + r.ignored).toBeLessThanOrEqual(text.split(/\r?\n/).length);
    }), { numRuns: 200 });
  });
});
