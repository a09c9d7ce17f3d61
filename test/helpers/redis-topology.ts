/**
 * Redis deployments a test starts for itself on free ports and stops: a Cluster of primaries,
 * a Sentinel group (primary, replica, sentinels) and a TLS-only server with a CA made here.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

interface Server {
  readonly port: number;
  readonly child: ChildProcess;
  /** SIGKILL, and resolves once the process is gone. */
  kill(): Promise<void>;
}

function spawnServer(bin: string, args: string[], port: number): Server {
  const child = spawn(bin, args, { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    port,
    child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Resolves once the server answers PING (Redis, or a sentinel). */
async function answering(port: number, options: Record<string, unknown> = {}): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not listening yet
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const BASE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];

export interface OwnCluster {
  readonly nodes: readonly Server[];
  /** REDIS_CLUSTER_NODES for the services. */
  readonly seeds: string;
  stop(): Promise<void>;
}

export async function startCluster(primaries = 3): Promise<OwnCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wo-cluster-'));
  const nodes: Server[] = [];
  try {
    for (let i = 0; i < primaries; i++) {
      const port = await freePort();
      // The bus port defaults to port + 10000, which can fall in the kernel's ephemeral range and
      // be taken by any client's outgoing connection (a CI run lost a node that way): name one.
      const busPort = await freePort();
      const args = ['--port', String(port), ...BASE, '--dir', dir, '--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000'];
      nodes.push(spawnServer('redis-server', args, port));
    }
    await Promise.all(nodes.map((n) => answering(n.port)));
    execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore', timeout: 30_000 });
    // Every node must know every slot's owner before clients arrive (the gossip takes a moment).
    for (const n of nodes) {
      const c = new Redis({ host: '127.0.0.1', port: n.port, maxRetriesPerRequest: 1 });
      try {
        const deadline = Date.now() + 15_000;
        while (!(await c.cluster('INFO')).includes('cluster_state:ok')) {
          if (Date.now() > deadline) throw new Error(`cluster node ${n.port} not ok`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        c.disconnect();
      }
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OwnSentinelGroup {
  readonly primary: Server;
  /** The first replica. */
  readonly replica: Server;
  readonly replicas: readonly Server[];
  readonly sentinels: readonly Server[];
  readonly name: string;
  /** REDIS_SENTINELS for the services. */
  readonly addresses: string;
  /** The port the sentinels currently name as primary. */
  primaryPort(): Promise<number>;
  /**
   * With `proxiedReplication`: delays the replication stream (both ways) by `ms` from now on,
   * so the replicas lag; what is in the delay when the primary dies never reaches them.
   */
  slowReplication(ms: number): void;
  stop(): Promise<void>;
}

/**
 * `minReplicasToWrite`: the primary refuses writes unless that many replicas are connected and
 * lagging at most `min-replicas-max-lag` (2) seconds (Redis's bound on the writes a failover
 * loses). `replicas` (default 1): with min-replicas-to-write 1, a group must keep a replica after
 * losing its primary, or the promoted one refuses every write.
 */
export async function startSentinelGroup(options: { minReplicasToWrite?: number; replicas?: number; proxiedReplication?: boolean } = {}): Promise<OwnSentinelGroup> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wo-sentinel-'));
  const name = 'wf';
  const servers: Server[] = [];
  const proxies: TcpProxy[] = [];
  const stopAll = async () => {
    await Promise.all(servers.map((s) => s.kill()));
    await Promise.all(proxies.map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pPort = await freePort();
    // All get the same settings: a replica becomes the primary on failover.
    const guard = options.minReplicasToWrite ? ['--min-replicas-to-write', String(options.minReplicasToWrite), '--min-replicas-max-lag', '2'] : [];
    const primary = spawnServer('redis-server', ['--port', String(pPort), ...BASE, '--dir', dir, ...guard], pPort);
    servers.push(primary);
    await answering(pPort);
    const replicas: Server[] = [];
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      const rPort = await freePort();
      // Proxied: the replica reaches its primary through a TCP proxy that can delay the stream.
      const link = options.proxiedReplication ? await startTcpProxy({ host: '127.0.0.1', port: pPort }) : null;
      if (link) proxies.push(link);
      const replica = spawnServer('redis-server', ['--port', String(rPort), ...BASE, '--dir', dir, '--replicaof', '127.0.0.1', String(link?.port ?? pPort), '--dbfilename', `r-${rPort}.rdb`, ...guard], rPort);
      servers.push(replica);
      replicas.push(replica);
      await answering(rPort);
    }
    const sentinels: Server[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${port}.conf`);
      // Sentinel rewrites its file as the topology changes: one writable file each.
      writeFileSync(
        conf,
        [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${pPort} 2`, `sentinel down-after-milliseconds ${name} 1000`, `sentinel failover-timeout ${name} 10000`, `sentinel parallel-syncs ${name} 1`, ''].join('\n'),
      );
      const s = spawnServer('redis-sentinel', [conf], port);
      servers.push(s);
      sentinels.push(s);
    }
    await Promise.all(sentinels.map((s) => answering(s.port)));
    const group: OwnSentinelGroup = {
      primary,
      replica: replicas[0]!,
      replicas,
      sentinels,
      name,
      addresses: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      async primaryPort() {
        for (const s of sentinels) {
          if (s.child.exitCode !== null) continue;
          const c = new Redis({ host: '127.0.0.1', port: s.port, maxRetriesPerRequest: 1 });
          try {
            const [, port] = (await c.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string];
            return Number(port);
          } finally {
            c.disconnect();
          }
        }
        throw new Error('no sentinel answers');
      },
      slowReplication(ms: number) {
        for (const p of proxies) p.slow(ms);
      },
      stop: stopAll,
    };
    // The replica must hold the primary's data before any is written: until its first full sync
    // ends (Redis waits repl-diskless-sync-delay, 5 s by default, before starting one) it is
    // empty, and a failover then promotes an empty replica. Earlier runs killed the primary in
    // that window and counted everything written so far as lost to asynchronous replication.
    for (const r of replicas) await replicaInSync(r.port, 20_000);
    // Sentinels must have found the replica and each other, or a failover cannot happen.
    const deadline = Date.now() + 20_000;
    for (const s of sentinels) {
      const c = new Redis({ host: '127.0.0.1', port: s.port, maxRetriesPerRequest: 1 });
      try {
        for (;;) {
          const info = (await c.call('SENTINEL', 'master', name)) as string[];
          const field = (k: string) => Number(info[info.indexOf(k) + 1]);
          if (field('num-slaves') >= replicas.length && field('num-other-sentinels') >= 2) break;
          if (Date.now() > deadline) throw new Error(`sentinel ${s.port} did not discover the group`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        c.disconnect();
      }
    }
    return group;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Resolves once the replica on `port` has finished its initial sync with its primary. */
async function replicaInSync(port: number, timeoutMs: number): Promise<void> {
  const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await c.info('replication');
      if (/master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info)) return;
      if (Date.now() > deadline) throw new Error(`replica ${port} did not finish its initial sync`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    c.disconnect();
  }
}

export interface OwnTlsRedis {
  readonly port: number;
  readonly caFile: string;
  readonly url: string;
  stop(): Promise<void>;
}

/** A redis-server that speaks only TLS, with a certificate for 127.0.0.1 signed by a CA made here. */
export async function startTlsRedis(): Promise<OwnTlsRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wo-tls-'));
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', timeout: 30_000 });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=wo-test-ca');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '1', '-extfile', f('ext.cnf'));
  const port = await freePort();
  const server = spawnServer(
    'redis-server',
    ['--port', '0', '--tls-port', String(port), ...BASE, '--dir', dir, '--tls-cert-file', f('server.pem'), '--tls-key-file', f('server.key'), '--tls-ca-cert-file', f('ca.pem'), '--tls-auth-clients', 'no'],
    port,
  );
  try {
    await answering(port, { tls: { ca: readFileSync(f('ca.pem')) } });
  } catch (err) {
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    caFile: f('ca.pem'),
    url: `rediss://127.0.0.1:${port}`,
    async stop() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
