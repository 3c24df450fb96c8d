import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output } from '../../src/cli/output.js';
import { summaryTable, epochLine } from '../../src/cli/format.js';
import { useColour } from '../../src/cli/style.js';

/** A fake terminal (or pipe) that keeps what is written. */
function terminal(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }), { isTTY, columns: 160 });
  return { stream, text: () => chunks.join('') };
}

function output(isTTY: boolean, options: { quiet?: boolean; json?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const t = terminal(isTTY);
  const lines: string[] = [];
  const errors: string[] = [];
  const out = new Output({ ...options, stream: t.stream, print: (l) => lines.push(l), error: (e) => errors.push(e), env: options.env ?? {} });
  return { out, lines, errors, text: t.text };
}

const epoch = {
  epoch: 0, steps: 9, seconds: 0.1, stepsPerSecond: 90, timing: { compute: 0, broadcast: 0, transport: 0, idle: 0, reduce: 0, combine: 0, optimizer: 0, total: 0 },
  conflict: 'conflict: species↔sex cos −0.31 (1 of 1 pair)',
  train: { species: { loss: 0.5, metric: 0.9, metricName: 'accuracy' as const, labelled: 10 }, sex: { loss: 0.6, metric: 0.8, metricName: 'accuracy' as const, labelled: 9 } },
  validation: { species: { loss: 0.4, metric: 0.95, metricName: 'accuracy' as const, labelled: 5 }, sex: { loss: 0.7, metric: 0.75, metricName: 'accuracy' as const, labelled: 4 } },
};

describe('output modes', () => {
  it('a TTY gets a live bar per epoch with per-task losses and ETA, and colours', () => {
    const { out, lines, text } = output(true);
    expect(out.mode).toBe('tty');
    expect(out.style.enabled).toBe(true);
    const bar = out.epochProgress(1, 30, 10);
    bar.update(4, { species: 0.4123, sex: 0.9 });
    bar.stop();
    expect(text()).toMatch(/epoch  2\/30 \[.*\] 4\/10 steps \| species 0\.412 sex 0\.900 \| ETA/);
    out.info(epochLine(epoch, 30, out.style));
    expect(lines[0]).toMatch(/\u001b\[1mspecies\u001b\[22m/);
    expect(lines[0]).toMatch(/conflict: species↔sex cos −0\.31/);
  });

  it('NO_COLOR turns colours off (not an empty NO_COLOR)', () => {
    expect(output(true, { env: { NO_COLOR: '1' } }).out.style.enabled).toBe(false);
    expect(output(true, { env: { NO_COLOR: '' } }).out.style.enabled).toBe(true);
    expect(useColour({ isTTY: false }, {})).toBe(false);
  });

  it('not a TTY: plain lines, no bar, no colours', () => {
    const { out, lines, text } = output(false);
    expect(out.mode).toBe('plain');
    out.epochProgress(0, 3, 10).update(1, { a: 1 });
    expect(text()).toBe('');
    out.info(epochLine(epoch, 3, out.style));
    expect(lines[0]).toBe('epoch 1/3 | species loss 0.500/0.400 acc 0.900/0.950 | sex loss 0.600/0.700 acc 0.800/0.750 | 90.0 steps/s | conflict: species↔sex cos −0.31 (1 of 1 pair)');
  });

  it('--quiet keeps only results and warnings; --json only JSON lines', () => {
    const quiet = output(true, { quiet: true });
    quiet.out.info('progress');
    quiet.out.result('table');
    quiet.out.json({ type: 'x' });
    quiet.out.warn('careful');
    expect(quiet.lines).toEqual(['table']);
    expect(quiet.errors).toEqual(['multitask: careful\n']);
    expect(quiet.out.style.enabled).toBe(false);
    const json = output(true, { json: true });
    json.out.info('progress');
    json.out.result('table');
    json.out.json({ type: 'x', v: NaN });
    expect(json.lines).toEqual(['{"type":"x","v":null}']);
  });

  it('the closing table: best and final validation metric, steps/s and wall time', () => {
    const text = summaryTable(
      [{ name: 'species', metricName: 'accuracy', bestValidation: 0.98, finalValidation: 0.97 }, { name: 'mass', metricName: 'rmse', bestValidation: 301.25, finalValidation: null }],
      { species: { loss: 0.1, metric: 0.97, metricName: 'accuracy', labelled: 68 }, mass: { loss: 0.2, metric: NaN, metricName: 'rmse', labelled: 0 } },
      { steps: 90, seconds: 0.5, wallSeconds: 1.25 });
    expect(text.split('\n')).toEqual([
      'task     metric    best val  final val  val loss  labelled',
      'species  accuracy     0.980      0.970     0.100        68',
      'mass     rmse         301.3          —     0.200         0',
      '90 steps in 0.50 s (180.0 steps/s); wall time 1.25 s',
    ]);
  });
});
