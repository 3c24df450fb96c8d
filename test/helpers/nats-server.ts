/**
 * A real NATS server and real `multitask worker` processes for the cluster
 * tests: no mocks. The server is Debian's `nats-server` on a free loopback
 * port with its own config file (max_payload, a JetStream store, optionally a
 * token) in a temporary folder; workers run the built CLI (dist/, which
 * `npm test` builds first). Everything started here is ended by `stopAll()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = new URL('../../bin/multitask.js', import.meta.url).pathname;

/** nats-server on PATH or where Debian installs it. */
export function natsServerPath(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server';
  throw new Error('nats-server is not installed (apt-get install nats-server; .ci/run does)');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `ready` every 25 ms until it holds; throws `what` (and `detail()`) after `ms`. */
export async function until(ready: () => boolean | Promise<boolean>, ms: number, what: string, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms${detail() ? `:\n${detail()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const servers = new Set<TestNatsServer>();
const workers = new Set<WorkerProcess>();

export class TestNatsServer {
  private child: ChildProcess | undefined;
  log = '';

  private constructor(readonly port: number, readonly dir: string, readonly token: string | undefined) {}

  /** Starts a server on a free loopback port (8 MB max_payload, JetStream), with a token if given. */
  static async start(options: { token?: string } = {}): Promise<TestNatsServer> {
    const dir = mkdtempSync(join(tmpdir(), 'multitask-nats-'));
    const server = new TestNatsServer(await freePort(), dir, options.token);
    const lines = [
      `listen: 127.0.0.1:${server.port}`,
      'max_payload: 8MB',
      `jetstream { store_dir: ${JSON.stringify(join(dir, 'store'))} }`,
      ...(options.token ? [`authorization { token: ${JSON.stringify(options.token)} }`] : []),
    ];
    writeFileSync(join(dir, 'nats.conf'), `${lines.join('\n')}\n`);
    servers.add(server);
    await server.restart();
    return server;
  }

  /** nats://[token@]127.0.0.1:PORT; `credentials` overrides the token (e.g. a wrong one). */
  url(credentials = this.token): string {
    return `nats://${credentials ? `${credentials}@` : ''}127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the (stopped) server again on the same port and store; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.running) return;
    const from = this.log.length;
    const child = spawn(natsServerPath(), ['-c', join(this.dir, 'nats.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => { this.log += String(d); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.child = child;
    await until(async () => {
      if (!this.running) throw new Error(`nats-server exited on port ${this.port}:\n${this.log}`);
      return (await accepts(this.port)) && /Server is ready/.test(this.log.slice(from));
    }, 10_000, `nats-server did not accept connections on port ${this.port}`, () => this.log);
  }

  /** Stops the server (SIGTERM; its clients see it go); its port and store stay for restart(). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  /** Stops the server and removes its folder. */
  async remove(): Promise<void> {
    await this.stop();
    servers.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

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
    const w = new WorkerProcess(spawn(process.execPath, [BIN, 'worker', '--connect', url, '--threads', '1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    workers.add(w);
    return w;
  }

  /** Spawns a worker and waits for its "joined" line. */
  static async join(url: string, ...args: string[]): Promise<WorkerProcess> {
    const w = WorkerProcess.spawn(url, ...args);
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
}
