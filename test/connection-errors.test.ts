/**
 * shared/connection-errors.ts against the errors the real drivers raise: postgres.js and ioredis
 * pointed at a port nobody listens on or a host that does not resolve, and a Postgres that
 * answers with an error of the query (not of the connection).
 */
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { expect, it } from 'vitest';
import { isDbConnectionError, isTransientDbError } from '../db/transient-errors.ts';
import { isConnectionFailure, unreachableDependency } from '../shared/connection-errors.ts';
import { producerConnection } from '../shared/redis.ts';
import { TEST_DATABASE_URL } from './helpers/database.ts';
import { freePort } from './helpers/ports.ts';

async function postgresError(url: string, query = 'select 1'): Promise<unknown> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql.unsafe(query);
    throw new Error('the query succeeded');
  } catch (err) {
    return err;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

it('a refused or unresolvable database is a connection failure of Postgres; a bad query is not', async () => {
  const port = await freePort();
  for (const err of [await postgresError(`postgres://postgres@127.0.0.1:${port}/test`), await postgresError('postgres://postgres@db.invalid:5432/test')]) {
    expect(unreachableDependency(err)).toBe('postgres');
    expect(isConnectionFailure(err)).toBe(true);
    expect(isDbConnectionError(err)).toBe(true);
    expect(isTransientDbError(err)).toBe(true);
  }
  const syntax = await postgresError(TEST_DATABASE_URL, 'selec 1');
  expect(unreachableDependency(syntax)).toBeUndefined();
  expect(isTransientDbError(syntax)).toBe(false);
});

it('a command on the producer\'s fail-fast Redis connection while Redis is away is a connection failure of Redis', async () => {
  const redis: Redis = producerConnection(`redis://127.0.0.1:${await freePort()}`);
  try {
    const err = await redis.get('k').then(() => new Error('the command succeeded'), (e: unknown) => e);
    expect(unreachableDependency(err)).toBe('redis');
    expect(isConnectionFailure(err)).toBe(true);
    // Not the database's: the worker's write retries look at Postgres' errors only.
    expect(isDbConnectionError(err)).toBe(false);
  } finally {
    redis.disconnect();
  }
});

it('other errors are not connection failures, whatever their cause chain holds', () => {
  expect(isConnectionFailure(new Error('boom', { cause: new TypeError('x') }))).toBe(false);
  expect(isConnectionFailure('ECONNREFUSED')).toBe(false);
  expect(isTransientDbError(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(true);
  expect(isDbConnectionError(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(false);
});
