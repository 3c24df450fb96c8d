import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCompareReport, writeReport, type ReportDocument } from '../../src/report/index.js';
import { readRun } from '../../src/trainer/run-format.js';
import { Ema, SMOOTHING } from '../../src/report/smooth.js';
import { UserError } from '../../src/util/errors.js';
import { DEFAULT_TASKS, writeSyntheticRun } from './synthetic-run.js';

const root = mkdtempSync(join(tmpdir(), 'multitask-report-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

export const HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">&amp;\u2028';

/** The embedded document, read back the way the page reads it. */
function embedded(html: string): ReportDocument {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]);
}

const charts = (doc: ReportDocument) => doc.sections.flatMap((s) => s.charts);

describe('run report', () => {
  it('writes one self-contained file with every chart and table', async () => {
    const dir = join(root, 'run');
    const written = writeSyntheticRun({ dir, extraLines: ['{"type":"step","step":"x"}', 'not json', '{"type":"checkpoint","step":3}'] });
    const result = await writeReport(dir);
    expect(result.path).toBe(join(dir, 'report.html'));
    const html = readFileSync(result.path, 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(?!#)[^"'\s>]+/i);
    expect(html).toMatch(/Content-Security-Policy/);
    expect(html.match(/<script\b/g)).toHaveLength(2);

    const doc = embedded(html);
    const titles = charts(doc).map((c) => c.title);
    for (const t of DEFAULT_TASKS) {
      expect(titles).toContain(`${t.name}: loss`);
      expect(titles).toContain(`${t.name}: ${t.metricName}`);
    }
    expect(titles).toEqual(expect.arrayContaining([
      'Gradient cosine per task pair', 'Gradient cosine per task pair over time', 'Gradient norm per task',
      'Strategy task weights', 'Step time breakdown']));
    const cosine = charts(doc).find((c) => c.title === 'Gradient cosine per task pair')!;
    expect(cosine.kind === 'line' && cosine.series.map((s) => s.name)).toEqual(['species · sex', 'species · mass', 'sex · mass']);
    const heat = charts(doc).find((c) => c.kind === 'heatmap')!;
    expect(heat.kind === 'heatmap' && heat.values.length).toBe(3);
    const timing = charts(doc).find((c) => c.kind === 'stacked')!;
    expect(timing.kind === 'stacked' && timing.categories).toEqual(['compute', 'transport', 'reduce', 'combine', 'optimizer', 'idle']);

    const tasksTable = doc.sections[0].tables[0];
    expect(tasksTable.rows.map((r) => r[0])).toEqual(['species', 'sex', 'mass']);
    expect(tasksTable.rows[2][1]).toBe('rmse');
    const runTable = doc.sections[0].tables[1];
    expect(runTable.rows).toEqual(expect.arrayContaining([['strategy', 'sum'], ['steps', 100], ['workers', 2]]));
    expect(doc.config).toContain('"seed": 1');

    // the per-step loss of the first step is in the data
    const loss = charts(doc).find((c) => c.title === 'species: loss')!;
    expect(loss.kind === 'line' && loss.series[0].x.length).toBe(100);
    expect(loss.kind === 'line' && loss.series.map((s) => s.name)).toEqual(['train (per step)', 'train (epoch)', 'validation']);
    // the per-step line is the EMA of the raw losses, which are drawn too
    const steps = loss.kind === 'line' ? loss.series[0] : undefined;
    const raw = written.records.flatMap((r) => (r.type === 'step' ? [r.losses.species] : []));
    expect(steps?.raw?.y).toEqual(raw.map((v) => Number(v.toPrecision(5))));
    const ema = new Ema(SMOOTHING);
    expect(steps?.y).toEqual(raw.map((v) => Number(ema.add(v).toPrecision(5))));
    expect(loss.kind === 'line' && loss.note).toMatch(/factor 0\.9/);
    // the tasks table's training loss is the last epoch's, not the last step's
    const lastTrain = written.records.filter((r) => r.type === 'eval' && r.split === 'train').at(-1)!;
    expect(tasksTable.rows[0][5]).toBe(lastTrain.type === 'eval' ? Number(lastTrain.tasks.species.loss.toPrecision(5)) : null);

    expect(result.skippedLines).toBe(2);
    expect(result.warnings).toEqual([
      'metrics.jsonl line 109: step is "x", expected a non-negative integer',
      'metrics.jsonl line 110: not valid JSON',
    ]);
    expect(doc.warnings).toEqual(result.warnings);
  });

  it('mmoe, ple: a chart per gate of its mean expert weights per epoch (validation records\' gates)', async () => {
    const dir = join(root, 'gates');
    const tasks = '"tasks":{"species":{"loss":0.5,"metric":0.8,"metricName":"accuracy"}}';
    const gates = (w: number) => `"gates":{"gates.species":{"experts.0":${w},"experts.1":${1 - w}},"gates.sex":{"experts.0":0.5,"experts.1":0.5}}`;
    writeSyntheticRun({ dir, extraLines: [
      `{"type":"eval","epoch":0,"step":25,"split":"validation",${tasks},${gates(0.3)}}`,
      `{"type":"eval","epoch":1,"step":50,"split":"validation",${tasks},${gates(0.7)}}`,
      `{"type":"eval","epoch":2,"step":75,"split":"validation",${tasks},"gates":{"gates.species":{"experts.0":"heavy"}}}`,
    ] });
    const result = await writeReport(dir);
    const section = embedded(readFileSync(result.path, 'utf8')).sections.find((x) => x.title === 'Gates')!;
    expect(section.charts.map((c) => c.title)).toEqual(['gates.species: mean expert weight', 'gates.sex: mean expert weight']);
    const species = section.charts[0];
    expect(species.kind === 'line' && species.series.map((x) => [x.name, x.x, x.y])).toEqual([['experts.0', [25, 50], [0.3, 0.7]], ['experts.1', [25, 50], [0.7, 0.3]]]);
    expect(result.warnings.at(-1)).toMatch(/gates\.gates\.species\.experts\.0 is "heavy", expected a number/);
  });

  it('escapes a hostile task name', async () => {
    const dir = join(root, 'hostile');
    writeSyntheticRun({ dir, tasks: [{ name: HOSTILE, metricName: 'accuracy' }, { name: 'b', metricName: 'rmse' }], name: HOSTILE });
    const { path } = await writeReport(dir);
    const html = readFileSync(path, 'utf8');
    expect(html).not.toContain(HOSTILE);
    expect(html).not.toContain('<img');
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    expect(html).toContain(`<title>multitask run: &#60;/script&#62;&#60;script&#62;window.__pwned=1`);
    const doc = embedded(html);
    expect(doc.title).toBe(`multitask run: ${HOSTILE}`);
    expect(doc.sections[0].tables[0].rows[0][0]).toBe(HOSTILE);
  });

  it('downsamples a long run to a small file', async () => {
    const dir = join(root, 'long');
    writeSyntheticRun({ dir, epochs: 20, stepsPerEpoch: 1000 });
    const { path, document } = await writeReport(dir);
    for (const c of charts(document)) {
      if (c.kind === 'line') for (const s of c.series) expect(s.x.length).toBeLessThanOrEqual(1000);
      if (c.kind === 'stacked' || c.kind === 'heatmap') expect(c.x0.length).toBeLessThanOrEqual(60);
    }
    const loss = charts(document).find((c) => c.title === 'mass: loss')!;
    expect(loss.kind === 'line' && loss.series[0].x.length).toBeGreaterThan(500);
    const size = statSync(path).size;
    expect(statSync(join(dir, 'metrics.jsonl')).size).toBeGreaterThan(10_000_000);
    expect(size).toBeLessThan(600_000);
  });

  it('tolerates a run without summary, weights or timing', async () => {
    const dir = join(root, 'partial');
    writeSyntheticRun({ dir, summary: false, weights: false, timing: false });
    const { document, warnings } = await writeReport(dir);
    expect(warnings).toEqual(['summary.json is missing']);
    const titles = charts(document).map((c) => c.title);
    expect(titles).not.toContain('Strategy task weights');
    expect(titles).not.toContain('Step time breakdown');
    expect(document.sections[0].tables[0].rows.map((r) => r[0])).toEqual(['species', 'sex', 'mass']);
    expect(document.subtitle).toMatch(/no summary\.json/);
  });

  it('turns a broken summary into a warning, and refuses a directory that is not a run', async () => {
    const dir = join(root, 'broken-summary');
    writeSyntheticRun({ dir });
    writeFileSync(join(dir, 'summary.json'), '{"name": 3}');
    const { warnings } = await writeReport(dir);
    expect(warnings[0]).toMatch(/summary\.json: name is 3, expected a string/);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await expect(writeReport(empty)).rejects.toThrow(UserError);
    await expect(writeReport(empty)).rejects.toThrow(/not a run directory/);
  });
});

describe('compare report', () => {
  it('overlays the strategies per task and tabulates them', async () => {
    const a = join(root, 'cmp-sum');
    const b = join(root, 'cmp-seq');
    writeSyntheticRun({ dir: a, name: 'cmp-sum', strategy: 'sum', seed: 1 });
    const seq = writeSyntheticRun({ dir: b, name: 'cmp-seq', strategy: 'sequential', seed: 2, weights: false });
    const out = join(root, 'compare');
    mkdirSync(out);
    const { path, document } = await writeCompareReport(out, [a, b]);
    expect(path).toBe(join(out, 'report.html'));
    const html = readFileSync(path, 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    const doc = embedded(html);
    expect(doc).toEqual(JSON.parse(JSON.stringify(document)));
    const table = doc.sections[0].tables[0];
    expect(table.rows.map((r) => r[0])).toEqual(['sum', 'sequential']);
    expect(table.columns.map((c) => c.label)).toContain('mass best rmse');
    expect(table.columns.find((c) => c.label === 'mass best rmse')!.better).toBe('min');
    for (const t of DEFAULT_TASKS) {
      const c = charts(doc).find((x) => x.title === `${t.name}: validation ${t.metricName}`)!;
      expect(c.kind === 'line' && c.series.map((s) => s.name)).toEqual(['sum', 'sequential']);
    }

    // runs in memory work the same
    const inMemory = await writeCompareReport(out, [a, { records: seq.records, summary: seq.summary, warnings: [] }], { out: join(out, 'mem.html') });
    expect(inMemory.document.sections[0].tables[0].rows).toEqual(table.rows);
    const run = await readRun(b);
    expect(run.records).toHaveLength(seq.records.length);
  });
});
