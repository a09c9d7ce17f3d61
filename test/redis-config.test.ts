/** Where Redis lives (one node, Sentinel, Cluster, TLS): read at start, misconfigurations named. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWorkerConfig } from '../shared/config.ts';
import { readProducerConfig } from '../shared/producer-config.ts';
import { readRedisTarget } from '../shared/redis-target.ts';
import { startTsProcess } from './helpers/processes.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'wo-redis-config-'));
const caFile = path.join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readRedisTarget', () => {
  it('reads the three modes', () => {
    expect(readRedisTarget({}, 'wo')).toMatchObject({ mode: 'single', url: 'redis://127.0.0.1:6379', tlsCa: undefined });
    expect(readRedisTarget({ REDIS_SENTINELS: 's1:26379, s2:26380', REDIS_SENTINEL_NAME: 'wf', REDIS_PASSWORD: 'pw', REDIS_USERNAME: 'app' }, 'wo')).toMatchObject({
      mode: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }],
      name: 'wf',
      username: 'app',
      password: 'pw',
    });
    expect(readRedisTarget({ REDIS_CLUSTER_NODES: 'a:7000,b:7001', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: caFile, REDIS_NAT_MAP: '10.0.0.1:7000=a.example:7000' }, '{wf}')).toMatchObject({
      mode: 'cluster',
      nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }],
      tlsCa: expect.stringContaining('BEGIN CERTIFICATE'),
      natMap: { '10.0.0.1:7000': { host: 'a.example', port: 7000 } },
    });
    expect(readRedisTarget({ REDIS_URL: 'rediss://r.example:6380', REDIS_TLS_CA_FILE: caFile }, 'wo')).toMatchObject({ mode: 'single', tlsCa: expect.stringContaining('BEGIN CERTIFICATE') });
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: 'a:7000' }, 'wo', /QUEUE_PREFIX "wo" has no hash tag.*REDIS_CLUSTER_NODES.*set QUEUE_PREFIX to a prefix in braces, such as \{wf\}/],
    [{ REDIS_CLUSTER_NODES: 'a:7000' }, '{}x', /QUEUE_PREFIX .* has no hash tag/],
    [{ REDIS_SENTINELS: 's1:26379' }, 'wo', /REDIS_SENTINEL_NAME must name the primary/],
    [{ REDIS_SENTINEL_NAME: 'wf' }, 'wo', /REDIS_SENTINEL_NAME is set without REDIS_SENTINELS/],
    [{ REDIS_URL: 'rediss://r.example:6380' }, 'wo', /REDIS_TLS_CA_FILE must name the PEM file .*rediss/],
    [{ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'wf', REDIS_TLS: 'true' }, 'wo', /REDIS_TLS_CA_FILE must name/],
    [{ REDIS_URL: 'rediss://r.example:6380', REDIS_TLS_CA_FILE: path.join(dir, 'missing.pem') }, 'wo', /REDIS_TLS_CA_FILE ".*missing.pem" cannot be used/],
    [{ REDIS_TLS_CA_FILE: caFile }, 'wo', /REDIS_TLS_CA_FILE is set but TLS is off/],
    [{ REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'wf' }, 'wo', /REDIS_SENTINELS must be a comma-separated list of host:port/],
    [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINELS: 's:1' }, '{wf}', /REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set/],
    [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://x:1' }, '{wf}', /REDIS_URL is set together with REDIS_CLUSTER_NODES/],
    [{ REDIS_TLS: 'yes' }, 'wo', /REDIS_TLS must be true or false/],
    [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_NAT_MAP: 'nonsense' }, '{wf}', /REDIS_NAT_MAP entries must look like/],
  ])('refuses %j with prefix %s', (env, prefix, message) => {
    expect(() => readRedisTarget(env, prefix)).toThrow(message);
  });

  it('is what both services read', () => {
    expect(() => readWorkerConfig({ REDIS_CLUSTER_NODES: 'a:7000', QUEUE_PREFIX: 'wo' })).toThrow(/QUEUE_PREFIX "wo" has no hash tag/);
    expect(() => readProducerConfig({ AUTH_DISABLED: 'true', REDIS_SENTINELS: 's1:26379' })).toThrow(/REDIS_SENTINEL_NAME/);
  });
});

describe('a misconfigured Redis stops start-up', () => {
  it.each([
    ['worker/main.ts', { REDIS_CLUSTER_NODES: '127.0.0.1:1', QUEUE_PREFIX: 'wo' }, /QUEUE_PREFIX "wo" has no hash tag/],
    ['producer/main.ts', { AUTH_DISABLED: 'true', REDIS_SENTINELS: '127.0.0.1:1' }, /REDIS_SENTINEL_NAME must name/],
    ['worker/main.ts', { REDIS_URL: 'rediss://127.0.0.1:1' }, /REDIS_TLS_CA_FILE must name/],
  ])('%s with %j', async (entry, env, message) => {
    const p = startTsProcess(entry, { REDIS_URL: '', REDIS_SENTINELS: '', REDIS_CLUSTER_NODES: '', REDIS_TLS_CA_FILE: '', ...env });
    const { code } = await p.exited;
    expect(code).not.toBe(0);
    expect(p.output()).toMatch(message);
  }, 30_000);
});
