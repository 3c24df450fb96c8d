/**
 * Where the CLI's output goes, by mode:
 *
 * - tty:   stdout is a terminal: a live progress bar per epoch (cli-progress:
 *          steps, per-task batch losses, ETA), then the epoch's line; colours
 *          unless NO_COLOR is set.
 * - plain: stdout is not a terminal (a file, a pipe, CI): one line per epoch.
 * - quiet: (--quiet) only errors (stderr) and the final table.
 * - json:  (--json) JSON lines on stdout, one per step, per epoch and a final
 *          summary (and nothing else: messages go to stderr).
 *
 * Warnings and errors always go to stderr as `multitask: ...`.
 */
import { SingleBar } from 'cli-progress';
import type { Writable } from 'node:stream';
import { num } from './format.js';
import { PLAIN, styleFor, type Style } from './style.js';

export type OutputMode = 'tty' | 'plain' | 'quiet' | 'json';

export interface OutputOptions {
  quiet?: boolean;
  json?: boolean;
  /** Line printer for stdout (default console.log). */
  print?: (line: string) => void;
  /** The terminal stream (default process.stdout): decides tty vs plain, and carries the bar. */
  stream?: Writable & { isTTY?: boolean; columns?: number };
  /** stderr writer (default process.stderr.write). */
  error?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Print nothing on stdout but the tty progress bars (warnings still go to stderr): compare's inner runs. */
  silent?: boolean;
}

/** A live bar for one epoch (a no-op outside tty mode). */
export interface EpochProgress {
  /** After every step: steps done in this epoch and the step's losses. */
  update(done: number, losses: Record<string, number>): void;
  /** Removes the bar (before the epoch's line is printed). */
  stop(): void;
}

const NO_PROGRESS: EpochProgress = { update() {}, stop() {} };

export class Output {
  readonly mode: OutputMode;
  readonly style: Style;
  private readonly print: (line: string) => void;
  private readonly stream: Writable & { isTTY?: boolean; columns?: number };
  private readonly error: (text: string) => void;
  private bar: SingleBar | undefined;
  private readonly silent: boolean;

  constructor(options: OutputOptions = {}) {
    this.stream = options.stream ?? process.stdout;
    this.print = options.print ?? ((line) => console.log(line));
    this.error = options.error ?? ((text) => process.stderr.write(text));
    this.mode = options.json ? 'json' : options.quiet ? 'quiet' : this.stream.isTTY ? 'tty' : 'plain';
    this.style = this.mode === 'tty' ? styleFor(this.stream, options.env) : PLAIN;
    this.silent = options.silent === true;
  }

  /** Progress and context lines (tty and plain modes). */
  info(line: string): void {
    if (!this.silent && (this.mode === 'tty' || this.mode === 'plain')) this.withoutBar(() => this.print(line));
  }

  /** The results (every mode but json). */
  result(text: string): void {
    if (!this.silent && this.mode !== 'json') this.withoutBar(() => this.print(text));
  }

  /** One JSON line (json mode only); non-finite numbers become null. */
  json(record: object): void {
    if (!this.silent && this.mode === 'json') this.print(JSON.stringify(record));
  }

  /** A warning on stderr, in every mode. */
  warn(message: string): void {
    this.withoutBar(() => this.error(`multitask: ${message}\n`));
  }

  /** A live bar for an epoch of `total` steps (tty mode), with per-task losses and ETA. */
  epochProgress(epoch: number, epochs: number, total: number): EpochProgress {
    if (this.mode !== 'tty') return NO_PROGRESS;
    const width = String(epochs).length;
    const bar = new SingleBar({
      stream: this.stream,
      format: `epoch ${String(epoch + 1).padStart(width)}/${epochs} [{bar}] {value}/{total} steps | {losses} | ETA {eta_formatted}`,
      barsize: 24,
      clearOnComplete: true,
      hideCursor: true,
      fps: 10,
      linewrap: false,
      barCompleteChar: '█',
      barIncompleteChar: '░',
    });
    this.bar = bar;
    bar.start(total, 0, { losses: '' });
    return {
      update: (done, losses) => {
        const text = Object.entries(losses).map(([task, loss]) => `${task} ${num(loss)}`).join(' ');
        bar.update(done, { losses: text });
      },
      stop: () => {
        if (this.bar === bar) this.bar = undefined;
        bar.stop();
      },
    };
  }

  private withoutBar(write: () => void): void {
    if (!this.bar) return write();
    // the bar redraws on its next update; clear its line so the text starts clean
    this.stream.write('\r\u001b[K');
    write();
  }
}
