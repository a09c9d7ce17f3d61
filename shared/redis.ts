/**
 * Every Redis connection of the project, by role, for one node, Sentinel or Cluster
 * (see RedisTarget in shared/redis-target.ts).
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { type RedisTarget, urlTarget } from './redis-target.ts';

/** What the factory returns: a Cluster client in cluster mode, a Redis client otherwise. */
export type RedisConnection = Redis | Cluster;

/**
 * For BullMQ workers and anything that may block: commands wait for a reconnect instead of
 * failing. `name` is what CLIENT LIST shows for it.
 */
export function blockingConnection(url: string, name?: string): Redis;
export function blockingConnection(target: RedisTarget, name?: string): RedisConnection;
export function blockingConnection(target: RedisTarget | string, name?: string): RedisConnection {
  return connect(target, { maxRetriesPerRequest: null, enableReadyCheck: true, ...(name ? { connectionName: name } : {}) });
}

/** For producers answering callers: fail fast while Redis is away instead of queueing commands. */
export function producerConnection(url: string): Redis;
export function producerConnection(target: RedisTarget): RedisConnection;
export function producerConnection(target: RedisTarget | string): RedisConnection {
  return connect(target, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 });
}

function connect(given: RedisTarget | string, role: RedisOptions): RedisConnection {
  const target = typeof given === 'string' ? urlTarget(given) : given;
  const common: RedisOptions = {
    ...role,
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.tlsCa !== undefined ? { tls: { ca: target.tlsCa } } : {}),
  };
  if (target.mode === 'single') return prepared(new Redis(target.url, common));
  if (target.mode === 'sentinel') {
    // The sentinels answer with the primary's address; the same credentials and TLS reach them.
    // On failover ioredis asks them again and reconnects to the new primary.
    return prepared(
      new Redis({
        ...common,
        sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: target.name,
        ...(target.username !== undefined ? { sentinelUsername: target.username } : {}),
        ...(target.password !== undefined ? { sentinelPassword: target.password } : {}),
        ...(target.tlsCa !== undefined ? { sentinelTLS: { ca: target.tlsCa }, enableTLSForSentinelMode: true } : {}),
        ...(target.natMap ? { natMap: target.natMap } : {}),
      }),
    );
  }
  const { maxRetriesPerRequest, enableOfflineQueue, ...redisOptions } = common;
  const options: ClusterOptions = {
    redisOptions: { ...redisOptions, maxRetriesPerRequest },
    ...(enableOfflineQueue === false ? { enableOfflineQueue: false } : {}),
    // With TLS the nodes are reached by the names in their certificates, not resolved addresses.
    ...(target.tlsCa !== undefined ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
    ...(target.natMap ? { natMap: target.natMap } : {}),
  };
  return preparedCluster(new Cluster(target.nodes.map((n) => ({ host: n.host, port: n.port })), options));
}

function preparedCluster(cluster: Cluster): Cluster {
  cluster.on('error', () => {});
  return cluster;
}

function prepared(redis: Redis): Redis {
  // While Redis is away ioredis emits an error per reconnect attempt; without a listener it
  // prints each one. The failures reach callers through the commands that fail, and the worker
  // logs BullMQ's own error events, so the connection-level events are not printed again.
  redis.on('error', () => {});
  return redis;
}
