/** `multitask strategies`, `--version` and "did you mean" for a misspelled choice. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { strategyListings } from '../../src/cli/strategies.js';
import { strategies, strategyNames } from '../../src/strategies/index.js';

const bin = new URL('../../bin/multitask.js', import.meta.url).pathname;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('multitask strategies', () => {
  it('lists sum, sequential and every registered method, each option with its default and range', () => {
    const listed = strategyListings();
    expect(listed.map((s) => s.name)).toEqual(['sum', 'sequential', ...strategyNames().filter((n) => n !== 'sum')]);
    const cagrad = listed.find((s) => s.name === 'cagrad')!;
    expect(cagrad.options.map((o) => o.name)).toEqual(Object.keys(strategies.cagrad.options));
    expect(cagrad.options[0].default).toBe((strategies.cagrad.defaults as Record<string, unknown>)[cagrad.options[0].name]);
    expect(cagrad.options[0].expected).toMatch(/^a number/);
  });

  it('prints them, and one JSON line each with --json', async () => {
    const text = await cli('strategies');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^pcgrad \(combination\): /m);
    expect(text.stdout).toMatch(/^ {4}c: default 0\.4; a number ≥ 0/m);
    const json = await cli('strategies', '--json');
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string });
    expect(lines.map((l) => l.name)).toEqual(strategyListings().map((s) => s.name));
  });

  it('--version prints the package version', async () => {
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    const run = await cli('--version');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });

  it('a misspelled --strategy gets a "did you mean", exit 2, no stack trace', async () => {
    const run = await cli('train', '--strategy', 'pcgrd');
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(/^multitask: --strategy: "pcgrd" is not one of sum, sequential, .* \(did you mean "pcgrad"\?\)$/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
