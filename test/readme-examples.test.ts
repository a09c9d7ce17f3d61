/**
 * The README's code runs as written: its TypeScript library example (which must close its client,
 * or the process never exits) and its curl flow, against a real producer, worker, Redis, Postgres
 * and the simulated provider. The blocks are read from README.md, not copied here. Its apt-get line
 * names every Debian package CI installs, so the test command works on a fresh machine as written.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import MarkdownIt from 'markdown-it';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { RunningProducer } from '../producer/server.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { PROJECT_ROOT } from './helpers/processes.ts';
import { producerPool } from './helpers/producer.ts';
import { run } from './helpers/prometheus.ts';

/** The first fenced block of `language` after the heading `heading` in README.md. */
function readmeBlock(heading: string, language: string): string {
  const tokens = new MarkdownIt().parse(readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8'), {});
  const start = tokens.findIndex((t, i) => t.type === 'heading_open' && tokens[i + 1]?.content === heading);
  if (start < 0) throw new Error(`README.md has no heading "${heading}"`);
  const block = tokens.slice(start).find((t) => t.type === 'fence' && t.info.trim() === language);
  if (!block) throw new Error(`README.md has no ${language} block under "${heading}"`);
  return block.content;
}

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let producer: RunningProducer;
let workdir: string;

beforeAll(async () => {
  h = await startHarness('readme-examples');
  await h.startWorker();
  pool = producerPool(h.env);
  producer = await pool.start({ AUTH_DISABLED: 'true', PRODUCER_API_TOKENS: '', ADMIN_API_TOKEN: '' });
  // The library example imports './producer/client.ts' from the repository root: run it from a
  // directory that looks like one, so no stray file lands in the work tree.
  workdir = mkdtempSync(join(tmpdir(), 'readme-example-'));
  symlinkSync(join(PROJECT_ROOT, 'package.json'), join(workdir, 'package.json'));
  symlinkSync(join(PROJECT_ROOT, 'producer'), join(workdir, 'producer'));
});

afterAll(async () => {
  await pool?.closeAll();
  await h?.close();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

describe("the README's examples", () => {
  it('the library example generates a workflow and exits on its own', async () => {
    const file = join(workdir, 'example.ts');
    writeFileSync(file, readmeBlock('The library', 'ts'));
    const env = { ...process.env, REDIS_URL: h.env.REDIS_URL!, QUEUE_PREFIX: h.prefix };
    // A client left open keeps the process alive: the timeout is what catches a missing close().
    const result = await run(process.execPath, [file], { cwd: PROJECT_ROOT, env, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+ (gpt-4o-mini|claude-sonnet-4-6) \d+(\.\d+)?(e-\d+)? (null|\w+)$/);
    const rows = await h.db.sql`select status, generator_used from workflow_generations`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('succeeded');
  });

  it('the curl flow enqueues, waits and prints the finished result', async () => {
    const script = readmeBlock('The curl flow', 'bash');
    const env = { ...process.env, API: producer.url };
    const result = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: PROJECT_ROOT, env, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as { status: string; generator: string; cost: number; steps: number };
    expect(printed.status).toBe('succeeded');
    expect(['gpt-4o-mini', 'claude-sonnet-4-6']).toContain(printed.generator);
    expect(printed.cost).toBeGreaterThan(0);
    expect(printed.steps).toBeGreaterThan(0);
  });
});

describe("the README's set-up", () => {
  it('its apt-get line names every Debian package .ci/run installs', () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const fence = new MarkdownIt().parse(readme, {}).find((t) => t.type === 'fence' && t.content.includes('apt-get install'));
    const line = /apt-get install -y ([^\n]+)/.exec(fence?.content.replace(/\\\n/g, ' ') ?? '')?.[1] ?? '';
    const named = new Set(line.trim().split(/\s+/));
    const ci = readFileSync(join(PROJECT_ROOT, '.ci/run'), 'utf8');
    const installed = [...ci.matchAll(/apt_install ([a-z0-9 -]+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    expect(installed.length).toBeGreaterThan(5);
    expect(installed.filter((p) => !named.has(p))).toEqual([]);
  });
});
