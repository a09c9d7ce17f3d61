/**
 * docker-compose.yml and the Dockerfile, checked without a Docker engine: Debian's
 * `docker-compose config -q` validates the file, and the resolved configuration is held to what
 * the deployment needs. compose-e2e.test.ts then runs the same commands natively.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { COMPOSE_FILE, type ComposeConfig, resolveCompose } from './helpers/compose.ts';
import { dockerfileStages, heapCapMb, imageEnvironment } from './helpers/dockerfile.ts';
import { PROJECT_ROOT } from './helpers/processes.ts';
import { run } from './helpers/prometheus.ts';
import { PROMETHEUS_CONFIG_FILE } from './helpers/promql.ts';

function execForm(instruction: string, stage: string[]): string[] | null {
  const line = stage.filter((l) => l.startsWith(`${instruction} `)).at(-1);
  if (!line) return null;
  return JSON.parse(line.slice(instruction.length + 1)) as string[];
}

const VENDOR_VARS = { OPENAI_API_KEY: 'sk-real', OPENAI_BASE_URL: 'https://api.openai.com/v1', ANTHROPIC_API_KEY: 'sk-ant-real', ANTHROPIC_BASE_URL: 'https://api.anthropic.com' };

let check: Awaited<ReturnType<typeof run>>;
let compose: ComposeConfig;
let withVendors: ComposeConfig;

beforeAll(async () => {
  // docker-compose (Python) takes a few seconds to start: run the three in parallel, once.
  [check, compose, withVendors] = await Promise.all([
    run('docker-compose', ['-f', COMPOSE_FILE, 'config', '-q'], { cwd: PROJECT_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME } }),
    resolveCompose(),
    resolveCompose(VENDOR_VARS),
  ]);
});

describe('docker-compose.yml', () => {
  it('docker-compose config -q accepts it', () => {
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toBe('');
  });

  it('the `ha` profile adds a replica and three sentinels watching `redis`, and the apps can be pointed at them', async () => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: '', REDIS_SENTINELS: 'redis-sentinel-1:26379,redis-sentinel-2:26379,redis-sentinel-3:26379', REDIS_SENTINEL_NAME: 'wf' };
    const ha = await run('docker-compose', ['-f', COMPOSE_FILE, '--profile', 'ha', 'config'], { cwd: PROJECT_ROOT, env });
    expect(ha.code, ha.stderr).toBe(0);
    const services = YAML.parse(ha.stdout).services as Record<string, { command?: string[]; environment?: Record<string, string> }>;
    const sentinels = Object.keys(services).filter((n) => n.startsWith('redis-sentinel-'));
    expect(sentinels).toHaveLength(3);
    for (const n of sentinels) expect(services[n]!.command!.join(' ')).toMatch(/sentinel monitor wf redis 6379 2/);
    expect(services['redis-replica']!.command).toEqual(expect.arrayContaining(['--replicaof', 'redis', '6379']));
    expect(services.worker!.environment).toMatchObject({ REDIS_SENTINELS: env.REDIS_SENTINELS, REDIS_SENTINEL_NAME: 'wf' });
    // Only with the profile do they run: `docker compose up` alone stays on one Redis node.
    for (const n of [...sentinels, 'redis-replica']) expect((compose.services[n] as { profiles?: string[] }).profiles, n).toEqual(['ha']);
  });

  it('Redis 7 never evicts, keeps an append-only file and has a healthcheck; Postgres has one too', () => {
    const redis = compose.services.redis!;
    expect(redis.image).toMatch(/^redis:7(\.|-|$)/);
    expect(redis.command).toEqual(expect.arrayContaining(['--maxmemory-policy', 'noeviction', '--appendonly', 'yes']));
    expect(redis.command![redis.command!.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    expect(redis.healthcheck?.test).toContain('ping');
    expect(compose.services.postgres!.healthcheck?.test).toContain('pg_isready');
  });

  it('a one-shot migrate/init runs before the producer and the workers', () => {
    const migrate = compose.services.migrate!;
    expect(migrate.command).toEqual(['sh', '-c', 'npm run db:migrate && npm run db:init']);
    expect(migrate.restart).toBe('no');
    expect(migrate.depends_on?.postgres?.condition).toBe('service_healthy');
    for (const s of ['producer', 'worker']) {
      expect(compose.services[s]!.depends_on?.migrate?.condition, s).toBe('service_completed_successfully');
      expect(compose.services[s]!.depends_on?.redis?.condition, s).toBe('service_healthy');
    }
  });

  it('workers: two replicas by default, scalable (no published port), talking to the simulator unless vendor URLs are given', () => {
    const worker = compose.services.worker!;
    expect(worker.deploy?.replicas).toBe(2);
    expect(worker.ports ?? []).toEqual([]);
    expect(worker.environment).toMatchObject({
      METRICS_PORT: '9464',
      OPENAI_BASE_URL: 'http://sim:8787/v1',
      ANTHROPIC_BASE_URL: 'http://sim:8787',
      REDIS_URL: 'redis://redis:6379',
    });
    expect(worker.environment!.OPENAI_API_KEY).toBeTruthy();
    // Graceful stop fits in compose's stop grace period.
    const graceS = Number(/^(\d+)s$/.exec(worker.stop_grace_period ?? '10s')![1]);
    expect(graceS * 1000).toBeGreaterThan(Number(worker.environment!.SHUTDOWN_GRACE_MS));

    expect(withVendors.services.worker!.environment).toMatchObject({ OPENAI_API_KEY: 'sk-real', OPENAI_BASE_URL: 'https://api.openai.com/v1', ANTHROPIC_BASE_URL: 'https://api.anthropic.com' });
  });

  it('the simulator on 8787, the producer on 3000 with auth off for the demo, Grafana on 3001 read-only for anonymous users', () => {
    expect(compose.services.sim!.environment).toMatchObject({ SIM_PORT: '8787', SIM_HOST: '0.0.0.0' });
    const producer = compose.services.producer!;
    expect(producer.environment).toMatchObject({ PORT: '3000', AUTH_DISABLED: 'true' });
    expect(producer.ports).toEqual([expect.objectContaining({ published: 3000, target: 3000 })]);
    const grafana = compose.services.grafana!;
    expect(grafana.ports).toEqual([expect.objectContaining({ published: 3001, target: 3000 })]);
    expect(grafana.environment).toMatchObject({ GF_AUTH_ANONYMOUS_ENABLED: 'true', GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer' });
    expect(compose.services.prometheus!.volumes!.some((v) => v.includes('/dashboards/prometheus:/etc/prometheus'))).toBe(true);
  });

  it('Prometheus discovers every worker replica by DNS on the port the workers listen on', () => {
    const prom = YAML.parse(readFileSync(PROMETHEUS_CONFIG_FILE, 'utf8')) as { scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; type: string; port: number }> }> };
    const job = (name: string) => prom.scrape_configs.find((j) => j.job_name === name)!;
    expect(job('worker').dns_sd_configs).toEqual([expect.objectContaining({ names: ['worker'], type: 'A', port: Number(compose.services.worker!.environment!.METRICS_PORT) })]);
    expect(job('producer').dns_sd_configs).toEqual([expect.objectContaining({ names: ['producer'], type: 'A', port: Number(compose.services.producer!.environment!.PORT) })]);
  });
});

describe('Dockerfile', () => {
  const s = dockerfileStages();

  it('is multi-stage: production dependencies only, installed in their own stage', () => {
    expect([...s.keys()]).toEqual(['deps', 'app', 'sim']);
    expect(s.get('deps')!.join('\n')).toMatch(/npm ci --omit=dev/);
    expect(s.get('app')!.join('\n')).toMatch(/COPY --from=deps \/app\/node_modules/);
    // Node strips the types itself: no TypeScript loader (tsx, esbuild) ships in the image.
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.tsx).toBeUndefined();
    expect(pkg.dependencies.esbuild).toBeUndefined();
  });

  it('npm ci in the deps stage has every file the install hooks run (the postgres.js patch reaches production)', () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const ignore = readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8').split('\n');
    const deps = s.get('deps')!;
    const npmCi = deps.findIndex((l) => l.includes('npm ci'));
    for (const hook of ['preinstall', 'install', 'postinstall']) {
      const script = pkg.scripts[hook];
      if (!script) continue;
      // patch-package reads the patches/ folder: it is one of the files the hook runs.
      const files = [...(script.match(/[\w./-]+\.(?:mjs|cjs|js|ts)\b/g) ?? []), ...(/\bpatch-package\b/.test(script) ? ['patches'] : [])];
      for (const file of files) {
        const copied = deps.findIndex((l) => l.startsWith('COPY ') && l.includes(file));
        expect(copied, `${hook} runs ${file}: COPY it before npm ci in the deps stage`).toBeGreaterThanOrEqual(0);
        expect(copied).toBeLessThan(npmCi);
        // Let in by an exception, or never excluded (no entry names it or a folder above it).
        const excluded = ignore.some((l) => l === file || file.startsWith(`${l}/`));
        if (excluded) expect(ignore, `.dockerignore must let ${file} into the build context`).toContain(`!${file}`);
      }
    }
  });

  it('the install applied the postgres.js write-after-close guard to every build of the package', () => {
    const root = join(PROJECT_ROOT, 'node_modules', 'postgres');
    for (const build of ['src', 'cjs/src', 'cf/src']) {
      expect(readFileSync(join(root, build, 'connection.js'), 'utf8'), `postgres/${build}/connection.js`).toMatch(/function nextWrite\(fn\) \{\n\s+if \(!socket\) \{/);
    }
  });

  it('runs as a non-root user, with tini execing node so SIGTERM reaches it', () => {
    for (const stage of ['app', 'sim']) {
      const users = s.get(stage)!.filter((l) => l.startsWith('USER '));
      expect(users.at(-1), stage).toBe('USER node');
    }
    expect(execForm('ENTRYPOINT', s.get('app')!)).toEqual(['/usr/bin/tini', '--']);
    expect(execForm('CMD', s.get('app')!)).toEqual(['node', 'worker/main.ts']);
    expect(execForm('CMD', s.get('sim')!)).toEqual(['node', 'test/simulator/main.ts']);
  });

  it('compose runs the image the way the Dockerfile means it: exec-form node commands', () => {
    expect(compose.services.worker!.command).toEqual(execForm('CMD', s.get('app')!));
    expect(compose.services.sim!.command).toEqual(execForm('CMD', s.get('sim')!));
    expect(compose.services.producer!.command).toEqual(['node', 'producer/main.ts']);
    for (const name of ['worker', 'producer', 'migrate']) expect(compose.services[name]!.build?.target, name).toBe('app');
    expect(compose.services.sim!.build?.target).toBe('sim');
  });

  it('the image caps V8\'s heap in NODE_OPTIONS, and compose runs the worker with that cap (nothing overrides it)', () => {
    const image = imageEnvironment('app');
    const cap = heapCapMb(image.NODE_OPTIONS);
    // Without a cap a worker with 1,000 jobs in flight grows to ~450 MB of mostly garbage (docs/operations.md, The image).
    expect(cap, `NODE_OPTIONS=${image.NODE_OPTIONS}`).toBeGreaterThan(0);
    expect(image.NODE_OPTIONS).toContain('--enable-source-maps');
    // The Dockerfile's ENV is the one place the number is written: no service built from the image sets another.
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build?.target !== 'app') continue;
      expect(service.environment?.NODE_OPTIONS, `${name} must inherit NODE_OPTIONS from the image`).toBeUndefined();
    }
    // What the worker's node gets in the container: the image's ENV, then compose's environment.
    const worker = { ...image, ...compose.services.worker!.environment };
    expect(heapCapMb(worker.NODE_OPTIONS)).toBe(cap);
  });

  it('.dockerignore keeps tests out of the image except the simulator', () => {
    const ignore = readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toContain('test');
    expect(ignore).toContain('!test/simulator');
    expect(ignore).toContain('**/node_modules');
  });
});
