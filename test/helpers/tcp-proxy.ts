/**
 * A TCP proxy between the project and Redis or Postgres that can cut, refuse, stall or slow
 * connections on command: the network faults a test needs, on real connections.
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'stall';

export interface TcpProxy {
  readonly port: number;
  readonly url: (scheme: string, rest?: string) => string;
  /** Closes every open connection (clients see a reset) and applies `mode` to new ones. */
  cut(mode?: Exclude<ProxyMode, 'pass'>): void;
  /** New connections pass again. */
  restore(): void;
  /** Delays every chunk by `ms` in both directions (0 to stop). */
  slow(ms: number): void;
  readonly openConnections: () => number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let delayMs = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket | null }>();
  const stalled = new Set<net.Socket>();

  const pipe = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (delayMs > 0) {
        from.pause();
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
          from.resume();
        }, delayMs);
      } else if (!to.destroyed) to.write(chunk);
    });
  };

  const server = net.createServer((client) => {
    client.on('error', () => {});
    if (mode === 'refuse') {
      client.destroy();
      return;
    }
    if (mode === 'stall') {
      // Accept, then say nothing: the client's own timeouts must notice.
      stalled.add(client);
      client.on('close', () => stalled.delete(client));
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      upstream.destroy();
      pairs.delete(pair);
    });
    upstream.on('close', () => client.destroy());
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url: (scheme, rest = '') => `${scheme}://127.0.0.1:${port}${rest}`,
    cut(next = 'refuse') {
      mode = next;
      for (const p of pairs) {
        p.client.resetAndDestroy();
        p.upstream?.destroy();
      }
      pairs.clear();
    },
    restore() {
      mode = 'pass';
      for (const s of stalled) s.destroy();
      stalled.clear();
    },
    slow(ms) {
      delayMs = ms;
    },
    openConnections: () => pairs.size,
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      for (const s of stalled) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A proxy in front of the Postgres at `databaseUrl`, and that URL through it (same database, user and options). */
export async function startPostgresProxy(databaseUrl: string): Promise<{ proxy: TcpProxy; url: string }> {
  const direct = new URL(databaseUrl);
  const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const viaProxy = new URL(databaseUrl);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  return { proxy, url: viaProxy.toString() };
}
