/**
 * A service in another team starts from the OpenAPI document alone: types generated from
 * /docs/json with openapi-typescript, a client from openapi-fetch, a program written against
 * them that type-checks under strict TypeScript and drives enqueue → status → result against a
 * running producer, worker, Redis, Postgres and the simulated provider.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProducer } from '../producer/server.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { PROJECT_ROOT } from './helpers/processes.ts';
import { API_TOKEN, call, producerPool } from './helpers/producer.ts';
import { run } from './helpers/prometheus.ts';

/** What the other team writes: only the generated `paths` type and openapi-fetch. */
const PROGRAM = `
import createClient from 'openapi-fetch';
import type { paths } from './api.ts';

const client = createClient<paths>({
  baseUrl: process.env.API_URL!,
  headers: { authorization: \`Bearer \${process.env.API_TOKEN!}\` },
});

const enqueued = await client.POST('/v1/generations', {
  body: {
    userId: 'team-b',
    agentId: 'agent-7',
    userGoal: 'Every Friday collect new rows of the sales sheet and post a summary to Slack',
    availablePlugins: ['google-sheets', 'slack'],
  },
});
if (!enqueued.data) throw new Error(\`enqueue failed: \${JSON.stringify(enqueued.error)}\`);
const id: string = enqueued.data.id;

const finished = new Set(['succeeded', 'invalid', 'failed', 'rejected']);
const deadline = Date.now() + 30_000;
// Polling is how a REST client follows a request; the events route is the push alternative.
for (;;) {
  const { data, error } = await client.GET('/v1/generations/{id}', { params: { path: { id } } });
  if (!data) throw new Error(\`status failed: \${JSON.stringify(error)}\`);
  if (finished.has(data.status)) {
    const result = data.result;
    const steps: number = result?.pilot_steps?.length ?? 0;
    console.log(JSON.stringify({ id, status: data.status, generator: result?.generator_used ?? null, steps, cost: result?.cost_usd ?? null }));
    break;
  }
  if (Date.now() > deadline) throw new Error(\`request \${id} still \${data.status}\`);
  await new Promise((resolve) => setTimeout(resolve, 50));
}

const missing = await client.GET('/v1/generations/{id}', { params: { path: { id: 'no-such-request' } } });
console.log(JSON.stringify({ missingStatus: missing.response.status, missingCode: missing.error?.error.code ?? null }));
`;

const TSCONFIG = {
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
  files: ['client.ts', 'api.d.ts'],
};

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let producer: RunningProducer;
let dir: string;

beforeAll(async () => {
  h = await startHarness('openapi-client');
  await h.startWorker();
  pool = producerPool(h.env);
  producer = await pool.start();
  dir = mkdtempSync(join(tmpdir(), 'openapi-client-'));
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
});

afterAll(async () => {
  await pool?.closeAll();
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a client generated from /docs/json', () => {
  it('type-checks and drives enqueue → status → result', async () => {
    const doc = await call(producer.url, 'GET', '/docs/json');
    expect(doc.status).toBe(200);
    writeFileSync(join(dir, 'api.d.ts'), astToString(await openapiTS(doc.text)));
    writeFileSync(join(dir, 'client.ts'), PROGRAM);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));

    const tsc = await run(join(PROJECT_ROOT, 'node_modules/.bin/tsc'), ['-p', dir], { cwd: dir, timeoutMs: 120_000 });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);

    const env = { ...process.env, API_URL: producer.url, API_TOKEN };
    const program = await run(process.execPath, [join(dir, 'client.ts')], { cwd: dir, env, timeoutMs: 60_000 });
    expect(program.code, program.stderr).toBe(0);
    const [outcome, missing] = program.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(outcome).toMatchObject({ status: 'succeeded' });
    expect(['gpt-4o-mini', 'claude-sonnet-4-6']).toContain(outcome!.generator);
    expect(outcome!.steps).toEqual(expect.any(Number));
    expect(outcome!.steps as number).toBeGreaterThan(0);
    expect(missing).toEqual({ missingStatus: 404, missingCode: 'NOT_FOUND' });

    const rows = await h.db.sql`select job_id, status from workflow_generations`;
    expect(rows.map((r) => ({ ...r }))).toEqual([{ job_id: outcome!.id, status: 'succeeded' }]);
  });

  it('a type error against the document is caught: the check is real', async () => {
    writeFileSync(join(dir, 'wrong.ts'), `import createClient from 'openapi-fetch';\nimport type { paths } from './api.ts';\nconst c = createClient<paths>({ baseUrl: 'http://x' });\nawait c.POST('/v1/generations', { body: { userId: 'u', agentId: 'a', userGoal: 'g' } });\n`);
    writeFileSync(join(dir, 'tsconfig.wrong.json'), JSON.stringify({ ...TSCONFIG, files: ['wrong.ts', 'api.d.ts'] }));
    const tsc = await run(join(PROJECT_ROOT, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.wrong.json')], { cwd: dir, timeoutMs: 120_000 });
    expect(tsc.code).not.toBe(0);
    expect(tsc.stdout).toContain('availablePlugins');
  });

  it('the open operational routes take no parameters: a query string is a 400, as documented', async () => {
    const res = await call(producer.url, 'GET', '/healthz?verbose=1');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_REQUEST');
    expect((await call(producer.url, 'GET', '/healthz')).status).toBe(200);
  });
});
