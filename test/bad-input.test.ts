/**
 * A corpus of bad requests through every door that does not need HTTP: the producer library
 * (refused before Redis) and a plain BullMQ client (refused by the worker, never reaching a
 * model). The HTTP door is covered with the API's tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../shared/errors.js';
import { eventually, type Harness, PLUGINS, startHarness } from './helpers/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('badinput');
  await h.startWorker();
});
afterAll(async () => {
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
