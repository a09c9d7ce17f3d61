/**
 * db/retrying-repository.ts: the one layer that retries database errors. Real errors from
 * postgres.js (a port nobody listens on, a bad query); the pauses go through the injected clock,
 * so the bound on the waits is checked without waiting.
 */
import postgres from 'postgres';
import { expect, it } from 'vitest';
import { DEFAULT_DB_RETRY, type RetryClock, withDbRetry } from '../db/retrying-repository.ts';
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

/** A clock whose pauses pass at once, and which records them. */
function recordingClock(): RetryClock & { readonly pauses: number[] } {
  let now = 0;
  const pauses: number[] = [];
  return {
    pauses,
    now: () => now,
    async sleep(ms) {
      pauses.push(ms);
      now += ms;
    },
  };
}

it('waits an unreachable database out, and the pauses never add up past maxWaitMs', async () => {
  const unreachable = await postgresError(`postgres://postgres@127.0.0.1:${await freePort()}/test`);
  const clock = recordingClock();
  let tries = 0;
  const err = await withDbRetry('begin', async () => {
    tries++;
    throw unreachable;
  }, { clock, random: () => 0.999 }).catch((e: unknown) => e);
  expect(err).toBe(unreachable);
  const waited = clock.pauses.reduce((a, b) => a + b, 0);
  expect(waited).toBe(DEFAULT_DB_RETRY.maxWaitMs);
  expect(Math.max(...clock.pauses)).toBeLessThanOrEqual(DEFAULT_DB_RETRY.maxDelayMs);
  expect(tries).toBe(clock.pauses.length + 1);
});

it('counts the tries too: a server that takes a connect timeout per try still ends the call after about maxWaitMs plus one try', async () => {
  const unreachable = await postgresError(`postgres://postgres@127.0.0.1:${await freePort()}/test`);
  const clock = recordingClock();
  const connectTimeoutMs = 10_000;
  let tries = 0;
  const err = await withDbRetry('finish', async () => {
    tries++;
    // Each try lasts the pool's connect timeout, as against a server that accepts and says nothing.
    await clock.sleep(connectTimeoutMs);
    throw unreachable;
  }, { clock, random: () => 0.999 }).catch((e: unknown) => e);
  expect(err).toBe(unreachable);
  expect(clock.now()).toBeLessThanOrEqual(DEFAULT_DB_RETRY.maxWaitMs + connectTimeoutMs);
  expect(tries).toBeGreaterThan(1);
});

it('returns the answer once the database is back', async () => {
  const unreachable = await postgresError(`postgres://postgres@127.0.0.1:${await freePort()}/test`);
  const clock = recordingClock();
  let tries = 0;
  const retried: string[] = [];
  const value = await withDbRetry('finish', async () => {
    if (++tries < 4) throw unreachable;
    return 'written';
  }, { clock, onRetry: (op) => retried.push(op) });
  expect(value).toBe('written');
  expect(clock.pauses).toHaveLength(3);
  expect(retried).toEqual(['finish']);
});

it('passes any other error on at once', async () => {
  const syntax = await postgresError(TEST_DATABASE_URL, 'selec 1');
  const clock = recordingClock();
  let tries = 0;
  const err = await withDbRetry('finish', async () => {
    tries++;
    throw syntax;
  }, { clock }).catch((e: unknown) => e);
  expect(err).toBe(syntax);
  expect(tries).toBe(1);
  expect(clock.pauses).toEqual([]);
});
