import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { metricsLine, RUN_FILES, type MetricsRecord, type RunSummary } from './run-format.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from '../util/errors.js';
import { listCheckpoints, loadLatestCheckpoint, saveCheckpoint, type CheckpointData } from './checkpoint.js';

export const CHECKPOINT_DIR = 'checkpoints';
export const WEIGHTS_FILE = 'weights.safetensors';

/** A name for a new run: UTC time and strategy, e.g. 2026-11-24T22-41-07-sum. */
export function defaultRunName(strategy: string): string {
  return `${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}-${strategy}`;
}

/**
 * runs/<name>/: the resolved config, metrics.jsonl, checkpoints/, the final
 * weights and summary.json. Metric lines are buffered and appended at epoch
 * ends and checkpoints, so a crash loses at most the lines after the last
 * checkpoint — which a resume recomputes anyway.
 */
export class RunDirectory {
  private pending: string[] = [];

  private constructor(readonly dir: string) {}

  /**
   * A new run directory; refuses to overwrite an existing run. Without a name,
   * one from the time and strategy, with -2, -3, ... appended if it is taken.
   */
  static create(runsDir: string, name: string | undefined, strategy: string, config: unknown): RunDirectory {
    if (name !== undefined && !/^[\w.=-]+$/.test(name)) {
      throw new UserError(`--name: ${JSON.stringify(name)} may only hold letters, digits, '.', '=', '-' and '_'`);
    }
    let dir = resolve(runsDir, name ?? defaultRunName(strategy));
    for (let n = 2; name === undefined && existsSync(dir); n++) dir = resolve(runsDir, `${defaultRunName(strategy)}-${n}`);
    if (existsSync(join(dir, RUN_FILES.config))) {
      throw new UserError(`--name: run directory ${dir} already holds a run (continue it with --resume ${dir}, or pick another name)`);
    }
    mkdirSync(join(dir, CHECKPOINT_DIR), { recursive: true });
    writeFileAtomic(join(dir, RUN_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
    writeFileSync(join(dir, RUN_FILES.metrics), '');
    return new RunDirectory(dir);
  }

  /** An existing run to resume: its config and newest checkpoint (if any). */
  static open(dir: string): { run: RunDirectory; config: unknown; checkpoint?: { path: string; data: CheckpointData } } {
    const path = join(dir, RUN_FILES.config);
    if (!existsSync(path)) throw new UserError(`--resume ${dir}: not a run directory (no ${RUN_FILES.config})`);
    let config: unknown;
    try {
      config = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
    }
    return { run: new RunDirectory(resolve(dir)), config, checkpoint: loadLatestCheckpoint(join(dir, CHECKPOINT_DIR)) };
  }

  get checkpointDir(): string {
    return join(this.dir, CHECKPOINT_DIR);
  }

  get weightsPath(): string {
    return join(this.dir, WEIGHTS_FILE);
  }

  /** The newest checkpoint file, if any. */
  latestCheckpoint(): string | undefined {
    return listCheckpoints(this.checkpointDir).at(-1);
  }

  record(r: MetricsRecord): void {
    this.pending.push(metricsLine(r));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    appendFileSync(join(this.dir, RUN_FILES.metrics), `${this.pending.join('\n')}\n`);
    this.pending = [];
  }

  /** Flushes the metrics, then writes the checkpoint atomically (keeping the newest `keep`). */
  checkpoint(data: CheckpointData, keep: number): string {
    this.flush();
    return saveCheckpoint(this.checkpointDir, data, keep);
  }

  /**
   * Before a resume: drops metric lines the checkpoint does not cover (steps at
   * or after it, evaluations of epochs it had not finished), which the resumed
   * run writes again.
   */
  truncateMetricsTo(checkpoint: Pick<CheckpointData, 'step' | 'epoch'>): void {
    const path = join(this.dir, RUN_FILES.metrics);
    if (!existsSync(path)) return;
    const kept = readFileSync(path, 'utf8').split('\n').filter((line) => {
      if (!line.trim()) return false;
      try {
        const r = JSON.parse(line) as { type?: string; step?: number; epoch?: number };
        return r.type === 'eval' ? (r.epoch ?? Infinity) < checkpoint.epoch : (r.step ?? Infinity) < checkpoint.step;
      } catch {
        return false; // a line torn by a crash
      }
    });
    writeFileAtomic(path, kept.length ? `${kept.join('\n')}\n` : '');
  }

  writeSummary(summary: RunSummary): void {
    this.flush();
    writeFileAtomic(join(this.dir, RUN_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
  }
}
