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
    })));
    const tables = await page.$$eval('table', (ts) => ts.map((t) => ({
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
    writeSyntheticRun({ dir, tasks: [{ name: 'species', metricName: 'accuracy' }, { name: HOSTILE, metricName: 'accuracy' }, { name: 'mass', metricName: 'rmse' }], extraLines: ['garbage'] });
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
    if (process.env.MULTITASK_SCREENSHOTS) await r.page.screenshot({ path: join(process.env.MULTITASK_SCREENSHOTS, 'run-report.png'), fullPage: true });
    await r.page.close();
  });

  it('draws the comparison report', async () => {
    const a = join(root, 'sum');
    const b = join(root, 'pcgrad');
    writeSyntheticRun({ dir: a, name: 'sum', strategy: 'sum', seed: 3 });
    writeSyntheticRun({ dir: b, name: 'pcgrad', strategy: 'pcgrad', seed: 4, weights: false });
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
    if (process.env.MULTITASK_SCREENSHOTS) await r.page.screenshot({ path: join(process.env.MULTITASK_SCREENSHOTS, 'compare-report.png'), fullPage: true });
    await r.page.close();
  });
});
