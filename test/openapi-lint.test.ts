/**
 * The OpenAPI document a running producer serves at /docs/json is clean under Redocly's
 * `recommended` ruleset (`@redocly/cli lint`): no errors and no warnings, so a service in another
 * team can generate a client from it without hand edits.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningProducer } from '../producer/server.ts';
import { createTestDatabase, TEST_DATABASE_URL, TEST_REDIS_URL, type TestDatabase, uniqueName } from './helpers/database.ts';
import { PROJECT_ROOT } from './helpers/processes.ts';
import { producerPool } from './helpers/producer.ts';
import { run } from './helpers/prometheus.ts';

let db: TestDatabase;
let pool: ReturnType<typeof producerPool>;
let producer: RunningProducer;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('openapi-lint');
  pool = producerPool({ REDIS_URL: TEST_REDIS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schemaName, QUEUE_PREFIX: uniqueName('openapi-lint'), LOG_LEVEL: 'silent' });
  producer = await pool.start();
  dir = mkdtempSync(join(tmpdir(), 'openapi-lint-'));
});

afterAll(async () => {
  await pool?.closeAll();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface LintProblem {
  readonly ruleId: string;
  readonly severity: 'error' | 'warn';
  readonly message: string;
  readonly location: readonly { readonly pointer?: string }[];
}

it('/docs/json lints clean under Redocly recommended', async () => {
  const res = await fetch(`${producer.url}/docs/json`);
  expect(res.status).toBe(200);
  const file = join(dir, 'openapi.json');
  writeFileSync(file, await res.text());
  const redocly = join(PROJECT_ROOT, 'node_modules/.bin/redocly');
  const result = await run(redocly, ['lint', file, '--extends', 'recommended', '--format', 'json'], {
    cwd: dir,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    timeoutMs: 120_000,
  });
  const report = JSON.parse(result.stdout) as { problems: LintProblem[] };
  const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`);
  expect(problems).toEqual([]);
  expect(result.code, result.stderr).toBe(0);
});
