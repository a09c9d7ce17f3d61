/**
 * Failures cross processes as data: the worker fails a job with a typed error whose code, reason
 * and message travel in the job's failed reason as JSON; the client reads the code from there,
 * and a plain BullMQ client still sees a message that starts with the code. Real BullMQ, real
 * Redis and Postgres, the SDKs against the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationFailedError } from '../producer/client.ts';
import { coerceError } from '../shared/errors.ts';
import { OutputInvalidError, parseRequestFailure, RequestFailedError, RequestRejectedError } from '../shared/failures.ts';
import { GENERATE_JOB } from '../shared/jobs.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';

describe('the failure as data', () => {
  it('round-trips every code through the failed-reason text, message first', () => {
    for (const failure of [
      new OutputInvalidError('schema', 3),
      new RequestFailedError('deadline_exceeded', 'deadline_exceeded: the deadline passed\nafter 2 attempts'),
      new RequestRejectedError('invalid_request', '/userGoal must not be blank'),
    ]) {
      const text = failure.failedReason;
      expect(text.startsWith(`${failure.code}: `)).toBe(true);
      expect(parseRequestFailure(text)).toEqual({ code: failure.code, reason: failure.reason, message: failure.message });
    }
  });

  it('reads nothing from a reason that carries no failure', () => {
    for (const text of [undefined, '', 'connect ECONNREFUSED', 'GENERATION_FAILED: text only', '{"code":"NOT_OURS","reason":"x","message":"y"}', '{"code":"GENERATION_FAILED"}', 'null']) {
      expect(parseRequestFailure(text)).toBeNull();
    }
  });

  it('coerceError keeps what was thrown as the cause', () => {
    const thrown = { status: 503, body: 'busy' };
    const err = coerceError(thrown);
    expect(err.message).toBe(JSON.stringify(thrown));
    expect(err.cause).toBe(thrown);
    expect(coerceError('boom').cause).toBe('boom');
    const original = new Error('kept');
    expect(coerceError(original)).toBe(original);
  });
});

describe('through real BullMQ', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('typed-failures');
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  const request = (text: string, ...directives: string[]) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: goal(text, ...directives), availablePlugins: PLUGINS });

  it('an invalid answer reaches the client as GENERATION_INVALID with its kind and result', async () => {
    const id = await h.client.enqueue(request('Tag invoices', 'gpt-4o-mini=schema', 'claude-sonnet-4-6=semantic'));
    const err = await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenerationFailedError);
    expect(err).toMatchObject({ code: 'GENERATION_INVALID', reason: 'semantic' });
    expect((err as GenerationFailedError).result?.status).toBe('invalid');
  });

  it('no answer reaches the client as GENERATION_FAILED with the call failure as reason', async () => {
    const id = await h.client.enqueue(request('Sync calendars', 'gpt-4o-mini=server_error', 'claude-sonnet-4-6=overloaded'));
    const err = await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'GENERATION_FAILED', reason: 'api_error' });
    const job = await h.fallbackQueue.getJob(`${id}-fallback`);
    expect(parseRequestFailure(job!.failedReason)).toMatchObject({ code: 'GENERATION_FAILED', reason: 'api_error' });
  });

  it('a raw job that breaks the contract fails with GENERATION_REJECTED first, the data on the last line', async () => {
    const job = await h.rawQueue.add(GENERATE_JOB, { userId: 'u', agentId: 'a', userGoal: '   ', availablePlugins: PLUGINS }, { jobId: 'typed-rejected-1' });
    await eventually(async () => (await h.rawQueue.getJobState(job.id!)) === 'failed', { what: 'the raw job to fail' });
    const failed = await h.rawQueue.getJob(job.id!);
    const lines = failed!.failedReason.split('\n');
    expect(lines[0]).toMatch(/^GENERATION_REJECTED: \/userGoal/);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ code: 'GENERATION_REJECTED', reason: 'invalid_request' });
    // The job was not retried: the rejection is final.
    expect(failed!.attemptsMade).toBe(1);
  });
});
