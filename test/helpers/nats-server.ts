/**
 * A real NATS server and real `multitask worker` processes for the cluster
 * tests: no mocks. The server is scripts/nats-server.ts (Debian's
 * `nats-server` on a free loopback port); workers run the built CLI (dist/,
 * which `npm test` builds first). Everything started here is ended by `stopAll()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { NatsServer, until } from '../../scripts/nats-server.js';

export { until };
export const BIN = new URL('../../bin/multitask.js', import.meta.url).pathname;

const servers = new Set<NatsServer>();
const workers = new Set<WorkerProcess>();

/** A server the tests started (ended by stopAll). */
export type TestNatsServer = NatsServer;
export const TestNatsServer = {
  async start(options: { token?: string } = {}): Promise<NatsServer> {
    const server = await NatsServer.start(options);
    servers.add(server);
    return server;
  },
};

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

/** A `multitask worker` process; its stdout and stderr are collected. */
export class WorkerProcess {
  output = '';
  readonly exited: Promise<Exit>;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d) => { this.output += String(d); });
    child.stderr!.on('data', (d) => { this.output += String(d); });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => workers.delete(this));
  }

  /** Spawns `multitask worker --connect URL --threads 1 ...args` (without waiting for it to join). */
  static spawn(url: string, ...args: string[]): WorkerProcess {
    return WorkerProcess.spawnWith({}, url, ...args);
  }

  /** Spawns a worker with extra environment variables (e.g. MULTITASK_FAULTS). */
  static spawnWith(env: Record<string, string>, url: string, ...args: string[]): WorkerProcess {
    const w = new WorkerProcess(spawn(process.execPath, [BIN, 'worker', '--connect', url, '--threads', '1', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
    workers.add(w);
    return w;
  }

  /** Spawns a worker and waits for its "joined" line. */
  static async join(url: string, ...args: string[]): Promise<WorkerProcess> {
    return WorkerProcess.joinWith({}, url, ...args);
  }

  /** Spawns a worker with extra environment variables and waits for its "joined" line. */
  static async joinWith(env: Record<string, string>, url: string, ...args: string[]): Promise<WorkerProcess> {
    const w = WorkerProcess.spawnWith(env, url, ...args);
    await w.waitFor(/joined /);
    return w;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The worker id it printed when it joined. */
  get id(): string {
    const m = /multitask worker (\S+): joined/.exec(this.output);
    if (!m) throw new Error(`the worker has not joined:\n${this.output}`);
    return m[1];
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until its output matches; fails naming the output when it exits or takes longer than `ms`. */
  async waitFor(pattern: RegExp, ms = 20_000): Promise<void> {
    await until(() => {
      if (pattern.test(this.output)) return true;
      if (!this.alive) throw new Error(`the worker exited before printing ${pattern}:\n${this.output}`);
      return false;
    }, ms, `the worker did not print ${pattern}`, () => this.output);
  }

  /** Sends a signal and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (this.alive) this.child.kill(signal);
    return this.exited;
  }
}

/** Ends every worker process started here (kill -9; for afterEach). */
export async function stopWorkers(): Promise<void> {
  await Promise.all([...workers].map((w) => w.kill('SIGKILL')));
}

/** Ends every worker process and server started here, and removes the servers' folders (for afterAll). */
export async function stopAll(): Promise<void> {
  await stopWorkers();
  await Promise.all([...servers].map((s) => s.remove()));
  servers.clear();
}
