/**
 * A real nats-server (Debian's package) on a free loopback port, for the
 * cluster bench and tests: its own config file (max_payload, JetStream store,
 * optionally a token), started, stopped, restarted on the same port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The nats-server binary: on PATH, or where Debian puts it; undefined when it is not installed. */
export function natsServerBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export interface NatsServerOptions {
  /** require this token (clients connect with nats://TOKEN@host:port) */
  token?: string;
  /** bytes; default 8 MiB */
  maxPayload?: number;
}

export class NatsServer {
  private process: ChildProcess | undefined;
  private log = '';

  private constructor(private readonly binary: string, readonly port: number, private readonly dir: string, private readonly options: NatsServerOptions) {
    const lines = [
      `listen: 127.0.0.1:${port}`,
      `max_payload: ${options.maxPayload ?? 8 * 1024 * 1024}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, 'jetstream'))} }`,
    ];
    if (options.token) lines.push(`authorization { token: ${JSON.stringify(options.token)} }`);
    writeFileSync(join(dir, 'nats.conf'), `${lines.join('\n')}\n`);
  }

  /** Starts a server on a free port; throws when nats-server is not installed. */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const binary = natsServerBinary();
    if (!binary) throw new Error('nats-server is not installed (apt-get install nats-server)');
    const server = new NatsServer(binary, await freePort(), mkdtempSync(join(tmpdir(), 'multitask-nats-')), options);
    await server.resume();
    return server;
  }

  /** nats://[token@]127.0.0.1:port */
  get url(): string {
    return `nats://${this.options.token ? `${this.options.token}@` : ''}127.0.0.1:${this.port}`;
  }

  /** What the server printed (for failure messages). */
  get output(): string {
    return this.log;
  }

  /** Starts the stopped server again, on the same port and store. */
  async resume(): Promise<void> {
    const child = spawn(this.binary, ['-c', join(this.dir, 'nats.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => { this.log += String(d); });
    child.stderr!.on('data', (d) => { this.log += String(d); });
    this.process = child;
    const deadline = Date.now() + 10_000;
    while (!(await accepting(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nats-server did not start on port ${this.port}:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the server (its clients see it go away). */
  async pause(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    this.process = undefined;
  }

  /** Stops the server and removes its files. */
  async stop(): Promise<void> {
    await this.pause();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
