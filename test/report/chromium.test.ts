/**
 * Opens the reports in headless Chromium (Debian's package, driven by
 * playwright-core) and checks that every chart drew, the tables have their
 * rows, nothing was fetched and nothing logged an error.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { writeCompareReport, writeReport } from '../../src/report/index.js';
import { aggregateSeeds, applyDeltaM, compareRow, conflictsCell, seedDeltaMCell, seedMetricCell, signed, type CompareRow } from '../../src/trainer/compare-stats.js';
import { writeSyntheticRun } from './synthetic-run.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) console.warn(`skipping the report's Chromium test: ${CHROMIUM} is not installed (apt-get install -y chromium)`);

const HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';

describe.skipIf(!available)('report in headless Chromium', () => {
  const root = mkdtempSync(join(tmpdir(), 'multitask-report-e2e-'));
  const profile = mkdtempSync(join(tmpdir(), 'multitask-chromium-'));
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await context?.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  });

  async function open(path: string) {
    const page = await context!.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
    page.on('request', (r) => requests.push(r.url()));
    const url = pathToFileURL(path).href;
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('main');
    const figures = await page.$$eval('figure.chart', (figs) => figs.map((f) => ({
      title: f.querySelector('figcaption')?.textContent ?? '',
      kind: f.getAttribute('data-chart'),
      svgs: f.querySelectorAll('svg').length,
      marks: f.querySelectorAll('svg path.mark, svg rect.mark').length,
      raw: f.querySelectorAll('svg path.raw').length,
      smoothed: f.querySelectorAll('svg path.smoothed').length,
      note: f.querySelector('.chart-note')?.textContent ?? '',
      // the drawn cells' share of the plot's height (heat maps)
      fill: (() => {
        const cells = [...f.querySelectorAll('svg rect.mark')].map((r) => r.getBoundingClientRect());
        const plot = f.querySelector('svg')!.getBoundingClientRect();
        return cells.length ? (Math.max(...cells.map((c) => c.bottom)) - Math.min(...cells.map((c) => c.top))) / plot.height : 0;
      })(),
    })));
    const tables = await page.$$eval('table', (ts) => ts.map((t) => ({
      title: t.parentElement?.querySelector('h3')?.textContent ?? '',
      head: [...t.querySelectorAll('th')].map((th) => th.textContent),
      rows: [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
    })));
    const pwned = await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned);
    const text: string = await page.evaluate(() => document.body.innerText);
    const title: string = await page.title();
    // hovering a line chart shows the tooltip without errors
    const plot = await page.$('figure[data-chart="line"] svg');
    if (plot) {
      await plot.scrollIntoViewIfNeeded();
      const box = (await plot.boundingBox())!;
      await plot.hover({ position: { x: box.width * 0.6, y: box.height * 0.5 } });
    }
    const tooltip: string = plot ? await page.$eval('figure[data-chart="line"] .tooltip', (t) => t.textContent ?? '') : '';
    return { page, problems, requests: requests.filter((r) => r !== url), figures, tables, pwned, text, title, tooltip };
  }

  it('draws every chart of a run report, with a hostile task name, and no errors', async () => {
    const dir = join(root, 'run');
    const { records } = writeSyntheticRun({ dir, tasks: [{ name: 'species', metricName: 'accuracy' }, { name: HOSTILE, metricName: 'accuracy' }, { name: 'mass', metricName: 'rmse' }], extraLines: ['garbage'] });
    const { path, document } = await writeReport(dir);
    const r = await open(path);
    expect(r.problems).toEqual([]);
    expect(r.requests).toEqual([]);
    expect(r.pwned).toBeUndefined();
    const expected = document.sections.flatMap((s) => s.charts).length;
    expect(expected).toBeGreaterThanOrEqual(11);
    expect(r.figures).toHaveLength(expected);
    for (const f of r.figures) {
      expect(f.svgs, f.title).toBeGreaterThanOrEqual(1);
      expect(f.marks, f.title).toBeGreaterThan(0);
    }
    expect(new Set(r.figures.map((f) => f.kind))).toEqual(new Set(['line', 'heatmap', 'stacked']));
    const tasks = r.tables.find((t) => t.head[0] === 'task')!;
    expect(tasks.rows.map((row) => row[0])).toEqual(['species', HOSTILE, 'mass']);
    expect(r.tables.find((t) => t.head[0] === 'field')!.rows.length).toBeGreaterThanOrEqual(6);
    expect(r.text).toContain(`${HOSTILE}: loss`);
    expect(r.text).toMatch(/metrics\.jsonl line \d+: not valid JSON/);
    expect(r.title).toBe('multitask run: synthetic');
    expect(r.tooltip).toMatch(/^step /);
    // the training loss shown is the last epoch's (its "train" evaluation record), not the last mini-batch's
    const lossColumn = tasks.head.indexOf('training loss (last epoch)');
    expect(lossColumn).toBeGreaterThan(0);
    const lastTrain = records.filter((x) => x.type === 'eval' && x.split === 'train').at(-1)!;
    const lastStep = records.filter((x) => x.type === 'step').at(-1)!;
    for (const row of tasks.rows) {
      const task = row[0]!;
      expect(Number(row[lossColumn])).toBeCloseTo(lastTrain.type === 'eval' ? lastTrain.tasks[task].loss : NaN, 3);
      expect(Math.abs(Number(row[lossColumn]) - (lastStep.type === 'step' ? lastStep.losses[task] : NaN))).toBeGreaterThan(1e-3);
    }
    // per-step lines: a smoothed line over the faint raw one, the smoothing stated
    for (const title of ['species: loss', 'Gradient cosine per task pair', 'Conflicting task pairs (negative cosine)', 'Gradient norm per task', 'Strategy task weights']) {
      const f = r.figures.find((x) => x.title === title)!;
      expect(f.raw, title).toBeGreaterThan(0);
      expect(f.smoothed, title).toBe(f.raw);
      expect(f.note, title).toMatch(/exponential moving average .*factor 0\.9, bias-corrected as TensorBoard's.*faint: the values themselves/);
    }
    // per-epoch lines are not smoothed
    expect(r.figures.find((x) => x.title === 'species: accuracy')!.raw).toBe(0);
    // the heat map's cells fill its panel
    const heat = r.figures.find((x) => x.kind === 'heatmap')!;
    expect(heat.fill).toBeGreaterThan(0.6);
    if (process.env.MULTITASK_SCREENSHOTS) await r.page.screenshot({ path: join(process.env.MULTITASK_SCREENSHOTS, 'run-report.png'), fullPage: true });
    await r.page.close();
  });

  it('draws the comparison report', async () => {
    const a = join(root, 'sum');
    const b = join(root, 'pcgrad');
    const sumRun = writeSyntheticRun({ dir: a, name: 'sum', strategy: 'sum', seed: 3 });
    const pcgradRun = writeSyntheticRun({ dir: b, name: 'pcgrad', strategy: 'pcgrad', seed: 4, weights: false, quality: 0.01 });
    const out = join(root, 'compare');
    mkdirSync(out);
    const { path, document } = await writeCompareReport(out, [a, b]);
    const r = await open(path);
    expect(r.problems).toEqual([]);
    expect(r.requests).toEqual([]);
    expect(r.figures).toHaveLength(document.sections.flatMap((s) => s.charts).length);
    expect(r.figures.length).toBe(3 * 3 + 1);
    for (const f of r.figures) expect(f.marks, f.title).toBeGreaterThan(0);
    const table = r.tables.find((t) => t.head[0] === 'run')!;
    expect(table.rows.map((row) => row[0])).toEqual(['sum', 'pcgrad']);
    // Δm% and conflicts: the figures of the console's compare table
    const rows = [compareRow('sum', a, sumRun.summary, NaN), compareRow('pcgrad', b, pcgradRun.summary, NaN)];
    expect(applyDeltaM(rows)).toBe('sum');
    const cell = (label: string, row: number) => table.rows[row][table.head.indexOf(label)];
    expect(cell('Δm%', 0)).toBe('0.0');
    expect(cell('Δm%', 1)).toBe(signed(rows[1].deltaM));
    expect(cell('Δm%', 1)).toMatch(/^\+\d+\.\d$/);
    expect(cell('conflicts', 1)).toBe(conflictsCell(rows[1].meanConflicts));
    expect(cell('conflicts', 1)).toMatch(/^\d\.\d\d$/);
    expect(table.head).toEqual(expect.arrayContaining(['time (s)', 'training (s)']));
    expect(r.text).toMatch(/time: the run's wall-clock time, the console's "time"/);
    const loss = r.figures.find((f) => f.title === 'species: training loss')!;
    expect([loss.raw, loss.smoothed]).toEqual([2, 2]);
    expect(loss.note).toMatch(/factor 0\.9/);
    if (process.env.MULTITASK_SCREENSHOTS) await r.page.screenshot({ path: join(process.env.MULTITASK_SCREENSHOTS, 'compare-report.png'), fullPage: true });
    await r.page.close();
  });

  it('draws a comparison over seeds: mean ± std per metric and Δm%, * beyond the seed spread', async () => {
    const rows: CompareRow[] = [];
    const dirs: string[] = [];
    // pcgrad a little better on every seed, mgda worse on one seed and better on the other
    const quality: Record<string, number[]> = { sum: [0, 0], pcgrad: [0.02, 0.025], mgda: [-0.03, 0.03] };
    for (const [si, seed] of [0, 1].entries()) {
      for (const label of ['sum', 'pcgrad', 'mgda']) {
        const dir = join(root, 'seeds', `seed-${seed}`, label);
        const { summary } = writeSyntheticRun({ dir, name: label, strategy: label, seed: 10 * seed + label.length, quality: quality[label][si] });
        rows.push({ ...compareRow(label, dir, summary, 1.5 + seed), seed });
        dirs.push(dir);
      }
    }
    const out = join(root, 'seeds');
    const { path } = await writeCompareReport(out, dirs, { comparison: rows });
    const r = await open(path);
    expect(r.problems).toEqual([]);
    const perRun = r.tables.find((t) => t.head[0] === 'run')!;
    expect(perRun.rows.map((row) => row[0])).toEqual(['sum · seed 0', 'pcgrad · seed 0', 'mgda · seed 0', 'sum · seed 1', 'pcgrad · seed 1', 'mgda · seed 1']);
    expect(perRun.rows.map((row) => row[perRun.head.indexOf('time (s)')])).toEqual(['1.5', '1.5', '1.5', '2.5', '2.5', '2.5']);
    const over = r.tables.find((t) => t.head[0] === 'strategy')!;
    expect(over.title).toBe('Over seeds 0, 1: mean ± standard deviation');
    expect(over.head).toEqual(['strategy', 'species final accuracy', 'sex final accuracy', 'mass final rmse', 'Δm%', 'seeds']);
    applyDeltaM(rows);
    const aggregate = aggregateSeeds(rows);
    expect(over.rows.map((row) => row[0])).toEqual(['sum', 'pcgrad', 'mgda']);
    over.rows.forEach((row, i) => {
      expect(row[1]).toMatch(/^\d\.\d{3} ± \d\.\d{3}$/);
      expect(row.slice(1, 4)).toEqual(['species', 'sex', 'mass'].map((t) => seedMetricCell(aggregate[i].metrics[t])));
      expect(row[4]).toBe(seedDeltaMCell(aggregate[i]));
      expect(row[5]).toBe('2');
    });
    expect(over.rows[1][4]).toMatch(/^\+\d+\.\d ± \d+\.\d \*$/); // beyond the seed spread
    expect(over.rows[2][4]).not.toMatch(/\*/); // within it
    expect(r.text).toContain('* where |mean Δm%| is more than twice its standard error');
    if (process.env.MULTITASK_SCREENSHOTS) await r.page.screenshot({ path: join(process.env.MULTITASK_SCREENSHOTS, 'compare-seeds-report.png'), fullPage: true });
    await r.page.close();
  });
});
