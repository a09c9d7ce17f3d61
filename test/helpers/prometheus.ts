/**
 * Prometheus and promtool from Debian's `prometheus` package, for tests: a server of our own on a
 * free port with its own config and a temporary TSDB, queried through its HTTP API; and promtool's
 * checks. `.ci/run` installs the package.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './harness.ts';
import { freePort } from './ports.ts';

export { freePort };

const INSTALL_HINT = 'apt-get install -y prometheus docker-compose (as .ci/run does)';

/** Node's default metrics that promtool's lint dislikes (gauges named *_total); see issue 5. */
export const TOLERATED_LINT = /^nodejs_active_(handles|requests|resources)_total /;

export interface Scraper {
  /** Scrapes answered so far. */
  scrapes(): number;
  /** Stops after the scrape in flight (its connection is destroyed) and waits for the loop. */
  stop(): Promise<void>;
}

/**
 * Scrapes `/metrics` back to back on one keep-alive connection, as Prometheus does at its
 * interval (so the connection never goes idle), until stopped.
 */
export function keepScraping(host: string, port: number | string): Scraper {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let stopped = false;
  let scrapes = 0;
  const loop = (async () => {
    while (!stopped) {
      const ok = await new Promise<boolean>((resolve) =>
        http
          .get({ host, port, path: '/metrics', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(true));
            res.on('error', () => resolve(false));
          })
          .on('error', () => resolve(false)),
      );
      if (ok) scrapes++;
      else await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    scrapes: () => scrapes,
    async stop() {
      stopped = true;
      agent.destroy();
      await loop;
    },
  };
}

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never throws on a non-zero exit. */
export function run(file: string, args: readonly string[], options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && (err as { code?: unknown }).code === 'ENOENT') return reject(new Error(`${file} is not installed: ${INSTALL_HINT}`));
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err ? ((err as { code: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/**
 * `promtool check metrics` on an exposition; returns the problems it reports, minus the tolerated
 * Node defaults. Exit 1 (unparseable input) throws; 3 means lint problems, which are returned.
 */
export async function promtoolLintMetrics(exposition: string): Promise<string[]> {
  if (!/^# TYPE /m.test(exposition)) throw new Error('no metrics to check');
  const r = await run('promtool', ['check', 'metrics'], { input: exposition });
  if (r.code !== 0 && r.code !== 3) throw new Error(`promtool check metrics failed (${r.code}): ${r.stderr}${r.stdout}`);
  return `${r.stdout}\n${r.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !TOLERATED_LINT.test(l));
}

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value?: [number, string];
  readonly values?: Array<[number, string]>;
}

export interface PrometheusServer {
  readonly url: string;
  readonly port: number;
  /** Instant query; throws on a PromQL error. */
  query(expr: string, time?: number): Promise<PromSample[]>;
  /** Range query in seconds since the epoch; throws on a PromQL error. */
  queryRange(expr: string, start: number, end: number, stepS: number): Promise<PromSample[]>;
  api<T>(path: string): Promise<T>;
  output(): string;
  close(): Promise<void>;
}

/** Starts `prometheus` with `config` (an object, written as YAML-compatible JSON) on a free port. */
export async function startPrometheus(config: unknown, options: { port?: number } = {}): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'prometheus-test-'));
  const configFile = join(dir, 'prometheus.yml');
  // JSON is valid YAML.
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--storage.tsdb.retention.time=1d'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err: NodeJS.ErrnoException) => {
      spawnError = err.code === 'ENOENT' ? new Error(`prometheus is not installed: ${INSTALL_HINT}`) : err;
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  }
  const form = async (path: string, params: Record<string, string>) => {
    const res = await fetch(`${url}${path}`, { method: 'POST', body: new URLSearchParams(params), signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: { result: PromSample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${params.query}: ${body.error ?? res.status}`);
    return body.data.result;
  };

  const server: PrometheusServer = {
    url,
    port,
    query: (expr, time) => form('/api/v1/query', { query: expr, ...(time !== undefined ? { time: String(time) } : {}) }),
    queryRange: (expr, start, end, stepS) => form('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(stepS) }),
    api,
    output: () => out,
    async close() {
      if (child.exitCode === null && child.signalCode === null && !spawnError) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await eventually(
      async () => {
        if (spawnError) throw spawnError;
        if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${out}`);
        const res = await fetch(`${url}/-/ready`).catch(() => null);
        return res?.ok ?? false;
      },
      { timeoutMs: 20_000, what: 'prometheus to be ready' },
    );
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

/** True when a sample value is a real number (not NaN or ±Inf). */
export function isFinite(v: string): boolean {
  return Number.isFinite(Number(v));
}
