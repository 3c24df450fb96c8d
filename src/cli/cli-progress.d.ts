/** The part of cli-progress (which ships no types) that the CLI uses. */
declare module 'cli-progress' {
  import type { Writable } from 'node:stream';

  export interface Options {
    format?: string | ((options: Options, params: Params, payload: Record<string, unknown>) => string);
    stream?: Writable;
    clearOnComplete?: boolean;
    stopOnComplete?: boolean;
    hideCursor?: boolean;
    barsize?: number;
    fps?: number;
    etaBuffer?: number;
    linewrap?: boolean;
    noTTYOutput?: boolean;
    barCompleteChar?: string;
    barIncompleteChar?: string;
    forceRedraw?: boolean;
  }

  export interface Params {
    value: number;
    total: number;
    progress: number;
    eta: number;
    startTime: number;
  }

  export class SingleBar {
    constructor(options: Options, preset?: Options);
    start(total: number, startValue: number, payload?: Record<string, unknown>): void;
    update(value: number, payload?: Record<string, unknown>): void;
    increment(delta?: number, payload?: Record<string, unknown>): void;
    setTotal(total: number): void;
    stop(): void;
  }

  export const Presets: { shades_classic: Options; shades_grey: Options; legacy: Options; rect: Options };
}
