/**
 * A corpus of bad requests through every door: the HTTP API (refused at the edge), the producer
 * library (refused before Redis) and a plain BullMQ client (refused by the worker). None of them
 * ever reaches a model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../shared/errors.ts';
import type { RunningProducer } from '../producer/server.ts';
import { eventually, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { apiAuth, call, producerPool } from './helpers/producer.ts';

let h: Harness;
let api: RunningProducer;
let producers: ReturnType<typeof producerPool>;

beforeAll(async () => {
  h = await startHarness('badinput');
  await h.startWorker();
  producers = producerPool(h.env);
  api = await producers.start();
});
afterAll(async () => {
  await producers?.closeAll();
  await h?.close();
});

const valid = { userId: 'u1', agentId: 'a1', userGoal: 'Summarise my inbox every morning', availablePlugins: PLUGINS };
let deep: unknown = 'x';
// As deep as a JSON encoder can write (V8's own stringify gives up near 5,000 levels).
for (let i = 0; i < 2_000; i++) deep = [deep];

export const BAD_REQUESTS: Array<[string, unknown, string]> = [
  ['no userId', { ...valid, userId: undefined }, '/userId'],
  ['a numeric userId', { ...valid, userId: 12 }, '/userId'],
  ['agentId null', { ...valid, agentId: null }, '/agentId'],
  ['no goal', { ...valid, userGoal: undefined }, '/userGoal'],
  ['a goal that is a number', { ...valid, userGoal: 5 }, '/userGoal'],
  ['a 5 MB goal', { ...valid, userGoal: 'g'.repeat(5 * 1024 * 1024) }, '/userGoal'],
  ['a NUL byte in the goal', { ...valid, userGoal: 'read\u0000mail' }, '/userGoal'],
  ['invalid Unicode (a lone surrogate) in the goal', { ...valid, userGoal: 'read \ud800 mail' }, '/userGoal'],
  ['a control character in the userId', { ...valid, userId: 'u\u0007' }, '/userId'],
  ['plugins not a list', { ...valid, availablePlugins: 'slack' }, '/availablePlugins'],
  ['10,000 plugins', { ...valid, availablePlugins: Array.from({ length: 10_000 }, (_, i) => `plugin-${i}`) }, '/availablePlugins'],
  ['a plugin key with spaces', { ...valid, availablePlugins: ['my plugin'] }, '/availablePlugins/0'],
  ['a __proto__ key', JSON.parse(JSON.stringify(valid).replace('{', '{"__proto__":{"isAdmin":true},')), '/__proto__'],
  ['a constructor key', JSON.parse(JSON.stringify(valid).replace('{', '{"constructor":{"prototype":{"x":1}},')), '/constructor'],
  ['deeply nested JSON in a plugin', { ...valid, availablePlugins: [deep] }, '/availablePlugins/0'],
  ['not an object at all', ['a', 'list'], ''],
];

function post(body: string | Blob, contentType = 'application/json') {
  return call<{ error: { code: string; message: string; details?: Array<{ path: string }> } }>(api.url, 'POST', '/v1/generations', { headers: { ...apiAuth, 'content-type': contentType }, raw: body });
}

describe('the HTTP API refuses bad requests at the edge', () => {
  for (const [what, data, path] of BAD_REQUESTS) {
    it(`${what}: a clear error`, async () => {
      const before = await h.rawQueue.count();
      const text = JSON.stringify(data);
      const res = await post(text);
      if (Buffer.byteLength(text) > 64 * 1024) {
        // Too big to read at all: refused before parsing.
        expect(res.status).toBe(413);
        expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      } else {
        expect(res.status).toBe(400);
        expect(res.body.error.message.length).toBeGreaterThan(10);
        if (path && !['/__proto__', '/constructor'].includes(path)) expect(res.body.error.details?.map((d) => d.path)).toContain(path);
      }
      expect(await h.rawQueue.count()).toBe(before);
    });
  }

  it('invalid UTF-8 bytes: 400 naming the encoding', async () => {
    const body = new Blob([Buffer.concat([Buffer.from('{"userId":"u","agentId":"a","userGoal":"bad '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('","availablePlugins":["slack"]}')])]);
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/UTF-8/i);
  });

  it('JSON nested 30,000 levels deep (within the size limit): 400, and the server lives on', async () => {
    const res = await post('['.repeat(30_000) + ']'.repeat(30_000));
    expect(res.status).toBe(400);
    const ok = await fetch(`${api.url}/healthz`);
    expect(ok.status).toBe(200);
  });

  it('a prototype-polluting body is refused and pollutes nothing', async () => {
    const res = await post('{"__proto__":{"polluted":true},"userId":"u","agentId":"a","userGoal":"g","availablePlugins":["slack"]}');
    expect(res.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('the producer library refuses bad requests before anything reaches Redis', () => {
  for (const [what, data, path] of BAD_REQUESTS) {
    it(`${what}: an error naming ${path || 'the document'}`, async () => {
      const before = await h.rawQueue.count();
      const err = await h.client.enqueue(data as never).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect((err as InvalidRequestError).errors.map((e) => e.path)).toContain(path);
      expect(await h.rawQueue.count()).toBe(before);
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    });
  }
});

describe('a plain BullMQ client', () => {
  it('cannot use a job id with ":" (BullMQ refuses it at add)', async () => {
    await expect(h.rawQueue.add('generate', valid, { jobId: 'tenant:42' })).rejects.toThrow(/:/);
  });

  it('gets every bad request rejected by the worker: no retries, no model call, a REJECTED audit row naming the field', async () => {
    const calls = h.sim.stats().totalRequests;
    const ids: string[] = [];
    for (const [i, [, data]] of BAD_REQUESTS.entries()) {
      const job = await h.rawQueue.add('generate', data, { jobId: `bad-${i}`, attempts: 5 });
      ids.push(job.id!);
    }
    await eventually(async () => (await h.rawQueue.getJobCounts('failed')).failed === ids.length, { timeoutMs: 30_000, what: 'every bad job to fail' });
    for (const id of ids) {
      const job = (await h.rawQueue.getJob(id))!;
      expect(job.failedReason).toMatch(/^GENERATION_REJECTED/);
      expect(job.attemptsMade).toBe(1);
    }
    expect(h.sim.stats().totalRequests).toBe(calls);
    const rows = await h.db.sql`
      select g.job_id, g.status, l.details->>'reason' as reason
      from workflow_generations g join audit_logs l on l.job_id = g.job_id and l.action = 'WORKFLOW_GENERATION_REJECTED'
      where g.job_id in ${h.db.sql(ids)} order by g.job_id`;
    expect(rows).toHaveLength(ids.length);
    for (const [i, [what, , path]] of BAD_REQUESTS.entries()) {
      const row = rows.find((r) => r.job_id === `bad-${i}`)!;
      expect(row.status, what).toBe('rejected');
      expect(row.reason, what).toContain(path || '/');
    }
  });
});
