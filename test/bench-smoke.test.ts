/**
 * The benchmark cannot rot: its smoke mode (every scenario, tiny) runs as a child process and
 * must exit 0 and write well-formed results. Timing targets are never asserted here.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from './helpers/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SCENARIOS = ['overhead', 'added-latency', 'latency-bound', 'fallback-handover', 'rate-limited', 'scale-out'];

interface Results {
  mode: string;
  machine: { cores: number; cpuModel: string };
  versions: Record<string, string>;
  scenarios: { name: string; error?: string; metrics?: Record<string, unknown>; targets?: { actual: unknown; pass: unknown }[]; pass: unknown }[];
}

it('npm run bench -- --smoke runs every scenario and writes valid JSON', async () => {
  const out = join(dir, 'results.json');
  const child = spawn(process.execPath, ['bench/run.ts', '--smoke', '--out', out], { cwd: PROJECT_ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  expect(code, output).toBe(0);

  const results = JSON.parse(readFileSync(out, 'utf8')) as Results;
  expect(results.mode).toBe('smoke');
  expect(results.machine.cores).toBeGreaterThan(0);
  for (const v of ['node', 'redis', 'postgres', 'bullmq']) expect(results.versions[v], v).toMatch(/^v?\d+\.\d+/);
  expect(results.scenarios.map((s) => s.name)).toEqual(SCENARIOS);
  for (const s of results.scenarios) {
    expect(s.error, `${s.name}: ${s.error}`).toBeUndefined();
    // Numbers, not verdicts: a smoke run asserts no target.
    expect(s.pass, s.name).toBeNull();
    const metrics = Object.entries(s.metrics ?? {});
    expect(metrics.length, s.name).toBeGreaterThan(0);
    for (const [key, value] of metrics) expect(Number.isFinite(value), `${s.name}.${key} = ${String(value)}`).toBe(true);
    for (const t of s.targets ?? []) expect(Number.isFinite(t.actual), `${s.name} target`).toBe(true);
  }
}, 240_000);
