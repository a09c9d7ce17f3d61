/** Free TCP ports for the servers a test starts (Prometheus, a Redis of its own, child processes). */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A port nobody listens on, below the kernel's ephemeral range: outgoing connections (Redis and
 * Postgres clients of every test running meanwhile) take their source ports from that range, and
 * a child process may need seconds between being told its port and binding it.
 */
export async function freePort(): Promise<number> {
  let low = 32_768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: keep the usual default
  }
  const from = 10_000;
  const to = Math.max(from + 1_000, low - 1);
  for (let i = 0; i < 200; i++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (taken.has(port)) continue;
    if (await canListen(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${from} and ${to}`);
}

/** Ports this process handed out: never twice, even once their first user closed them. */
const taken = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    // 0.0.0.0 covers 127.0.0.1 too: the worker's metrics server binds every interface.
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}
