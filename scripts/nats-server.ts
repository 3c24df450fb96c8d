/**
 * A real nats-server (Debian's package) on a free loopback port, for the
 * cluster tests and the cluster bench: its own config file in a temporary
 * folder (max_payload 8 MB, a JetStream store, optionally a token), started,
 * stopped, and restarted on the same port and store.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** nats-server on PATH or where Debian installs it; undefined when it is not installed. */
export function natsServerBinary(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : undefined;
}

/** The nats-server binary, or an Error saying how to install it. */
export function natsServerPath(): string {
  const binary = natsServerBinary();
  if (!binary) throw new Error('nats-server is not installed (apt-get install nats-server; .ci/run does)');
  return binary;
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

export class NatsServer {
  private child: ChildProcess | undefined;
  log = '';

  private constructor(readonly port: number, readonly dir: string, readonly token: string | undefined) {}

  /** Starts a server on a free loopback port (8 MB max_payload, JetStream), with a token if given. */
  static async start(options: { token?: string } = {}): Promise<NatsServer> {
    const dir = mkdtempSync(join(tmpdir(), 'multitask-nats-'));
    const server = new NatsServer(await freePort(), dir, options.token);
    const lines = [
      `listen: 127.0.0.1:${server.port}`,
      'max_payload: 8MB',
      `jetstream { store_dir: ${JSON.stringify(join(dir, 'store'))} }`,
      ...(options.token ? [`authorization { token: ${JSON.stringify(options.token)} }`] : []),
    ];
    writeFileSync(join(dir, 'nats.conf'), `${lines.join('\n')}\n`);
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
    rmSync(this.dir, { recursive: true, force: true });
  }
}

