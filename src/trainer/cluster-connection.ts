/**
 * Connecting to the cluster's NATS server, for the coordinator and the
 * workers alike. Credentials and TLS are NATS's own: a token or
 * user:password in the URL (`nats://TOKEN@host:4222`,
 * `nats://user:pass@host:4222`), a credentials file, a CA for TLS. A refused
 * or unreachable server is a one-line UserError naming the URL (without its
 * secrets). The client reconnects by itself when the server goes away.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { UserError } from '../util/errors.js';

export interface ClusterAddress {
  /** nats://[token@ | user:password@]host[:port] */
  url: string;
  /** a NATS credentials file (JWT and NKey seed) */
  creds?: string;
  /** a CA certificate (PEM) to verify the server's TLS certificate with */
  tlsCa?: string;
}

/** The URL without its credentials, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** Connection options from an address: the server, its credentials, TLS. UserError for a URL that is not one. */
export function connectionOptions(address: ClusterAddress, name: string): ConnectionOptions {
  let url: URL;
  try {
    url = new URL(address.url.includes('://') ? address.url : `nats://${address.url}`);
  } catch {
    throw new UserError(`cluster url ${JSON.stringify(redactUrl(address.url))}: not a URL (expected nats://host:4222)`);
  }
  if (!['nats:', 'tls:'].includes(url.protocol) || url.hostname === '') {
    throw new UserError(`cluster url ${JSON.stringify(redactUrl(address.url))}: expected nats://[credentials@]host[:port]`);
  }
  const options: ConnectionOptions = {
    servers: `${url.hostname}:${url.port || '4222'}`,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: 5000,
  };
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  if (pass) Object.assign(options, { user, pass });
  else if (user) options.token = user;
  if (address.creds !== undefined) {
    let text: Uint8Array;
    try {
      text = readFileSync(address.creds);
    } catch (e) {
      throw new UserError(`--creds ${address.creds}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    options.authenticator = credsAuthenticator(text);
  }
  if (address.tlsCa !== undefined || url.protocol === 'tls:') options.tls = address.tlsCa !== undefined ? { caFile: address.tlsCa } : {};
  return options;
}

/** Connects; a server that refuses or cannot be reached is a one-line UserError. */
export async function connectCluster(address: ClusterAddress, name: string): Promise<NatsConnection> {
  const options = connectionOptions(address, name);
  try {
    return await connect(options);
  } catch (e) {
    const err = e as Error;
    const why = /authorization|authentication/i.test(`${err.name} ${err.message}`)
      ? 'the server refused the credentials (a token or user:password in the URL, --creds, as its config requires)'
      : err.message;
    throw new UserError(`cluster ${redactUrl(address.url)}: cannot connect: ${why}`);
  }
}
