/**
 * The project's Redis connections (shared/redis.ts) hold the commands written in one turn of the
 * event loop and send them together at its end, on every socket they get, reconnects included:
 * same commands, same order, same replies.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockingConnection, producerConnection } from '../shared/redis.ts';
import { ownRedis, type OwnRedis } from './helpers/redis-server.ts';

let server: OwnRedis;
let admin: Redis;

beforeAll(async () => {
  server = await ownRedis();
  admin = new Redis(server.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await admin?.quit().catch(() => {});
  await server?.stop();
});

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** The producer's connection refuses commands until it is ready instead of queueing them. */
const ready = (redis: Redis) => (redis.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => redis.once('ready', () => resolve())));

describe.each([
  ['blockingConnection', blockingConnection],
  ['producerConnection', producerConnection],
] as const)('%s', (_name, connect) => {
  it('holds the writes of one turn until it ends, then answers each command in order', async () => {
    const redis = connect(server.url);
    try {
      await ready(redis);
      const key = `coalesce:${_name}`;
      await redis.del(key);
      await nextTurn();
      const socket = redis.stream;
      expect(socket.writableCorked).toBe(0);

      const replies = Promise.all(Array.from({ length: 200 }, () => redis.incr(key)));
      // Within the turn nothing has left yet: 200 commands wait in the socket's buffer.
      expect(socket.writableCorked).toBe(1);
      expect(socket.writableLength).toBeGreaterThan(200 * 'INCR'.length);
      await nextTurn();
      expect(socket.writableCorked).toBe(0);
      expect(await replies).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(await admin.get(key)).toBe('200');
    } finally {
      redis.disconnect();
    }
  });

  it('holds the writes on the socket of a reconnect too', async () => {
    const redis = connect(server.url);
    try {
      await ready(redis);
      const id = await redis.client('ID');
      const first = redis.stream;
      const reconnected = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
      await admin.client('KILL', 'ID', String(id));
      await reconnected;
      expect(redis.stream).not.toBe(first);
      const reply = redis.ping();
      expect(redis.stream.writableCorked).toBe(1);
      expect(await reply).toBe('PONG');
      expect(redis.stream.writableCorked).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
