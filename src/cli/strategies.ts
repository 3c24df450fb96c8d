/**
 * `multitask strategies`: every strategy `--strategy` takes, with what it
 * does, its paper, and its options (`--strategy-option key=value`) with their
 * defaults and ranges, straight from the registry.
 */
import { describeSpec, getStrategy, strategyNames, type OptionSpec } from '../strategies/index.js';
import type { Output } from './output.js';

export interface StrategyListing {
  name: string;
  kind: 'base' | 'combination' | 'weighting';
  summary: string;
  citation?: string;
  options: { name: string; default: unknown; expected: string; doc: string }[];
}

/** `sum` and `sequential` first (the trainer's own), then every registered method but `sum`. */
export function strategyListings(): StrategyListing[] {
  const base: StrategyListing[] = [
    { name: 'sum', kind: 'base', summary: 'one step on the gradient of Σ w_t·L_t (the fused plan: one trunk pass for every task)', options: [] },
    {
      name: 'sequential', kind: 'base', summary: 'one step per task, each with its own optimizer state and learning rate (--task-lr)',
      options: [
        { name: '--sequential-mode', default: 'fresh', expected: 'fresh or stale', doc: 'fresh: task t at the parameters task t−1 left; stale: every task at the same parameters' },
        { name: '--weighting', default: 'none', expected: 'a loss weighting (uncertainty, dwa, rlw, gradnorm, fixed)', doc: 'scales each task\'s step; its options are --strategy-option' },
      ],
    },
  ];
  const registered = strategyNames().filter((n) => n !== 'sum').map((name): StrategyListing => {
    const s = getStrategy(name);
    const specs = s.options as Record<string, OptionSpec>;
    return {
      name, kind: s.kind, summary: s.summary, citation: s.citation,
      options: Object.entries(specs).map(([key, spec]) => ({ name: key, default: (s.defaults as Record<string, unknown>)[key], expected: describeSpec(spec), doc: spec.doc })),
    };
  });
  return [...base, ...registered];
}

const shown = (v: unknown) => (Array.isArray(v) ? (v.length === 0 ? '[]' : v.join(',')) : String(v));

export function strategiesCommand(output: Output): number {
  const listings = strategyListings();
  for (const s of listings) {
    output.json({ type: 'strategy', ...s });
    output.result(`${s.name} (${s.kind}): ${s.summary}`);
    if (s.citation) output.result(`    ${s.citation}`);
    for (const o of s.options) output.result(`    ${o.name}: default ${shown(o.default)}; ${o.expected} — ${o.doc}`);
  }
  output.info('\noptions: --strategy-option key=value (config: strategyOptions), e.g. --strategy cagrad --strategy-option c=0.2');
  return 0;
}
