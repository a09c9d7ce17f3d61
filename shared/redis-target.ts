/**
 * Where Redis lives, read once at start: one node, a Sentinel-watched primary, or a Cluster.
 * Every connection of the project is built from one of these (shared/redis.ts).
 */
import { readFileSync } from 'node:fs';
import { ConfigurationError } from './errors.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** What every mode shares: an ACL user, TLS with the CA that signed the servers' certificates. */
export interface RedisAuth {
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** PEM of the CA (REDIS_TLS_CA_FILE); set exactly when TLS is on. */
  readonly tlsCa: string | undefined;
  /**
   * REDIS_NAT_MAP: addresses the servers announce (cluster nodes, sentinel replies) mapped to
   * addresses this process can reach, as ioredis's natMap wants them.
   */
  readonly natMap: Readonly<Record<string, HostPort>> | undefined;
}

export type RedisTarget =
  | (RedisAuth & { readonly mode: 'single'; readonly url: string })
  | (RedisAuth & { readonly mode: 'sentinel'; readonly sentinels: readonly HostPort[]; readonly name: string })
  | (RedisAuth & { readonly mode: 'cluster'; readonly nodes: readonly HostPort[] });

type Env = Readonly<Record<string, string | undefined>>;

const invalid = (message: string): ConfigurationError => new ConfigurationError('INVALID_CONFIG', message);

function opt(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** `host:port,host:port` */
export function parseHostPorts(name: string, raw: string): HostPort[] {
  return raw.split(',').map((part) => {
    const m = /^\s*([^\s:,]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\s*$/.exec(part);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65_535) throw invalid(`${name} must be a comma-separated list of host:port, got ${JSON.stringify(part)}`);
    return { host: m[1]!, port };
  });
}

/** `REDIS_NAT_MAP="10.0.0.5:6379=redis-0.example:6379,..."` */
function parseNatMap(raw: string | undefined): Record<string, HostPort> | undefined {
  if (raw === undefined) return undefined;
  const out: Record<string, HostPort> = {};
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [from, to, ...rest] = part.split('=');
    if (!from || !to || rest.length > 0) throw invalid(`REDIS_NAT_MAP entries must look like announced-host:port=reachable-host:port, got ${JSON.stringify(part)}`);
    parseHostPorts('REDIS_NAT_MAP', from);
    out[from.trim()] = parseHostPorts('REDIS_NAT_MAP', to)[0]!;
  }
  return out;
}

function readCa(env: Env, tls: boolean, why: string): string | undefined {
  const file = opt(env, 'REDIS_TLS_CA_FILE');
  if (!tls) {
    if (file !== undefined) throw invalid(`REDIS_TLS_CA_FILE is set but TLS is off: use a rediss:// REDIS_URL or set REDIS_TLS=true`);
    return undefined;
  }
  // A TLS connection that trusts only the system store fails at the first handshake against a
  // managed Redis with a private CA, long after start; naming the file up front fails here.
  if (file === undefined) throw invalid(`REDIS_TLS_CA_FILE must name the PEM file of the CA that signed the Redis servers' certificates (TLS is on: ${why})`);
  try {
    const pem = readFileSync(file, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return pem;
  } catch (err) {
    throw invalid(`REDIS_TLS_CA_FILE ${JSON.stringify(file)} cannot be used: ${(err as Error).message}`);
  }
}

/**
 * Redis Cluster places each key by its hash slot; BullMQ's scripts touch several keys of a
 * queue at once, which works only when they share a slot, and a `{tag}` in the prefix makes
 * them hash on the tag alone (BullMQ's docs, "Redis Cluster").
 */
export function hasHashTag(prefix: string): boolean {
  return /\{[^{}]+\}/.test(prefix);
}

/**
 * REDIS_URL (one node), REDIS_SENTINELS + REDIS_SENTINEL_NAME (Sentinel) or REDIS_CLUSTER_NODES
 * (Cluster); REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS, REDIS_TLS_CA_FILE and REDIS_NAT_MAP for all.
 */
export function readRedisTarget(env: Env, queuePrefix: string): RedisTarget {
  const sentinels = opt(env, 'REDIS_SENTINELS');
  const clusterNodes = opt(env, 'REDIS_CLUSTER_NODES');
  const name = opt(env, 'REDIS_SENTINEL_NAME');
  if (sentinels !== undefined && clusterNodes !== undefined) throw invalid('REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set: choose Sentinel or Cluster');
  if (name !== undefined && sentinels === undefined) throw invalid('REDIS_SENTINEL_NAME is set without REDIS_SENTINELS: list the sentinels as host:port,host:port');
  const tlsFlag = opt(env, 'REDIS_TLS');
  if (tlsFlag !== undefined && !['true', 'false'].includes(tlsFlag)) throw invalid(`REDIS_TLS must be true or false, got ${JSON.stringify(tlsFlag)}`);

  if (sentinels !== undefined || clusterNodes !== undefined) {
    if (opt(env, 'REDIS_URL') !== undefined) throw invalid(`REDIS_URL is set together with ${sentinels ? 'REDIS_SENTINELS' : 'REDIS_CLUSTER_NODES'}: unset one of them`);
    const tls = tlsFlag === 'true';
    const auth: RedisAuth = { username: opt(env, 'REDIS_USERNAME'), password: opt(env, 'REDIS_PASSWORD'), tlsCa: readCa(env, tls, 'REDIS_TLS=true'), natMap: parseNatMap(opt(env, 'REDIS_NAT_MAP')) };
    if (sentinels !== undefined) {
      if (name === undefined) throw invalid('REDIS_SENTINEL_NAME must name the primary the sentinels watch (the name in their `sentinel monitor` line) when REDIS_SENTINELS is set');
      return { ...auth, mode: 'sentinel', sentinels: parseHostPorts('REDIS_SENTINELS', sentinels), name };
    }
    if (!hasHashTag(queuePrefix)) {
      throw invalid(`QUEUE_PREFIX ${JSON.stringify(queuePrefix)} has no hash tag, and in Redis Cluster mode (REDIS_CLUSTER_NODES) each queue's keys must share one slot for BullMQ's scripts: set QUEUE_PREFIX to a prefix in braces, such as {wf}`);
    }
    return { ...auth, mode: 'cluster', nodes: parseHostPorts('REDIS_CLUSTER_NODES', clusterNodes!) };
  }

  const url = opt(env, 'REDIS_URL') ?? 'redis://127.0.0.1:6379';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`REDIS_URL is not a valid URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw invalid(`REDIS_URL must use redis: or rediss:, got ${parsed.protocol}`);
  if (tlsFlag === 'false' && parsed.protocol === 'rediss:') throw invalid('REDIS_TLS=false contradicts the rediss:// REDIS_URL');
  const tls = parsed.protocol === 'rediss:' || tlsFlag === 'true';
  return {
    mode: 'single',
    url,
    username: opt(env, 'REDIS_USERNAME'),
    password: opt(env, 'REDIS_PASSWORD'),
    tlsCa: readCa(env, tls, parsed.protocol === 'rediss:' ? 'REDIS_URL is rediss://' : 'REDIS_TLS=true'),
    natMap: parseNatMap(opt(env, 'REDIS_NAT_MAP')),
  };
}

/** A plain URL as a target: what tests and the library's `redisUrl` option give. */
export function urlTarget(url: string): RedisTarget {
  return { mode: 'single', url, username: undefined, password: undefined, tlsCa: undefined, natMap: undefined };
}
