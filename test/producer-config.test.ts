/** The producer's configuration: defaults, and start-up errors that name the variable. */
import { describe, expect, it } from 'vitest';
import { readProducerConfig } from '../shared/producer-config.ts';

const TOKENS = { PRODUCER_API_TOKENS: 'api-token-0123456789abcdef, api-token-second-000000000', ADMIN_API_TOKEN: 'admin-token-0123456789abcdef' };

describe('readProducerConfig', () => {
  it('has production defaults', () => {
    const c = readProducerConfig(TOKENS);
    expect(c).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      apiTokens: ['api-token-0123456789abcdef', 'api-token-second-000000000'],
      admins: [{ name: 'admin', token: 'admin-token-0123456789abcdef' }],
      authDisabled: false,
      enqueueRateLimitPerMinute: 600,
      loginFreeFailures: 5,
      loginBackoffMaxMs: 30_000,
      sseMaxStreamsPerPrincipal: 50,
      adminSessionTtlS: 28_800,
      trustProxy: false,
      sseHeartbeatMs: 15_000,
      dependencyTimeoutMs: 2_000,
      shutdownGraceMs: 10_000,
      logLevel: 'info',
      redis: { target: { mode: 'single', url: 'redis://127.0.0.1:6379' }, queuePrefix: 'wo' },
      databaseSchema: undefined,
    });
  });

  it('refuses to start without tokens unless AUTH_DISABLED=true', () => {
    expect(() => readProducerConfig({})).toThrow(/PRODUCER_API_TOKENS is empty.*AUTH_DISABLED=true/);
    expect(() => readProducerConfig({ PRODUCER_API_TOKENS: TOKENS.PRODUCER_API_TOKENS })).toThrow(/ADMIN_API_TOKENS and ADMIN_API_TOKEN are not set/);
    expect(readProducerConfig({ AUTH_DISABLED: 'true' })).toMatchObject({ authDisabled: true, apiTokens: [], admins: [] });
  });

  it('refuses an admin token that is also an API token, short tokens and tokens with spaces', () => {
    expect(() => readProducerConfig({ ...TOKENS, ADMIN_API_TOKEN: 'api-token-0123456789abcdef' })).toThrow(/ADMIN_API_TOKEN must differ/);
    expect(() => readProducerConfig({ ...TOKENS, PRODUCER_API_TOKENS: 'short' })).toThrow(/PRODUCER_API_TOKENS holds a token shorter than 16/);
    expect(() => readProducerConfig({ ...TOKENS, ADMIN_API_TOKEN: 'admin token with spaces' })).toThrow(/ADMIN_API_TOKEN holds a token with spaces/);
  });

  it('reads named admins from ADMIN_API_TOKENS, beside the one unnamed ADMIN_API_TOKEN', () => {
    const alice = 'alice-token-0123456789abcdef';
    const bob = 'bob-token-0123456789abcdef:with-colon';
    const named = readProducerConfig({ PRODUCER_API_TOKENS: TOKENS.PRODUCER_API_TOKENS, ADMIN_API_TOKENS: ` alice:${alice}, bob@example.com:${bob} ,` });
    // A token may hold a colon: the name ends at the first one.
    expect(named.admins).toEqual([{ name: 'alice', token: alice }, { name: 'bob@example.com', token: bob }]);
    expect(readProducerConfig({ ...TOKENS, ADMIN_API_TOKENS: `alice:${alice}` }).admins).toEqual([{ name: 'alice', token: alice }, { name: 'admin', token: TOKENS.ADMIN_API_TOKEN }]);
  });

  it('refuses empty names, duplicate names or tokens, short tokens and API tokens in ADMIN_API_TOKENS, naming it', () => {
    const base = { PRODUCER_API_TOKENS: TOKENS.PRODUCER_API_TOKENS };
    const t1 = 'first-admin-token-0123456789';
    const t2 = 'second-admin-token-012345678';
    expect(() => readProducerConfig({ ...base, ADMIN_API_TOKENS: `:${t1}` })).toThrow(/ADMIN_API_TOKENS entry 1 has an empty name/);
    expect(() => readProducerConfig({ ...base, ADMIN_API_TOKENS: `alice:${t1},${t2}` })).toThrow(/ADMIN_API_TOKENS entry 2 is not name:token/);
    expect(() => readProducerConfig({ ...base, ADMIN_API_TOKENS: `alice:${t1},alice:${t2}` })).toThrow(/ADMIN_API_TOKENS names alice twice/);
    expect(() => readProducerConfig({ ...base, ADMIN_API_TOKENS: `alice:${t1},bob:${t1}` })).toThrow(/ADMIN_API_TOKENS gives bob the same token as alice/);
    expect(() => readProducerConfig({ ...base, ADMIN_API_TOKENS: 'alice:short' })).toThrow(/ADMIN_API_TOKENS \(the token of alice\) holds a token shorter than 16/);
    expect(() => readProducerConfig({ ...base, ADMIN_API_TOKENS: `al ice:${t1}` })).toThrow(/ADMIN_API_TOKENS entry 1 has the name "al ice"/);
    expect(() => readProducerConfig({ ...base, ADMIN_API_TOKENS: 'alice:api-token-0123456789abcdef' })).toThrow(/ADMIN_API_TOKENS must differ from every token in PRODUCER_API_TOKENS \(the token of alice\)/);
    // The single token's admin is named `admin`: a named admin cannot take that name or that token.
    expect(() => readProducerConfig({ ...TOKENS, ADMIN_API_TOKENS: `admin:${t1}` })).toThrow(/ADMIN_API_TOKENS names an admin "admin"/);
    expect(() => readProducerConfig({ ...TOKENS, ADMIN_API_TOKENS: `alice:${TOKENS.ADMIN_API_TOKEN}` })).toThrow(/ADMIN_API_TOKEN gives admin the same token as alice/);
  });

  it('names the variable of a bad value', () => {
    expect(() => readProducerConfig({ ...TOKENS, PORT: 'eighty' })).toThrow(/PORT must be a whole number/);
    expect(() => readProducerConfig({ ...TOKENS, PORT: '70000' })).toThrow(/PORT must be between 0 and 65535/);
    expect(() => readProducerConfig({ ...TOKENS, ENQUEUE_RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(/ENQUEUE_RATE_LIMIT_PER_MINUTE/);
    expect(() => readProducerConfig({ ...TOKENS, AUTH_DISABLED: 'yes' })).toThrow(/AUTH_DISABLED must be true or false/);
    expect(() => readProducerConfig({ ...TOKENS, TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY must be true or false/);
    expect(() => readProducerConfig({ ...TOKENS, REDIS_URL: 'http://x' })).toThrow(/REDIS_URL must use redis: or rediss:/);
    expect(() => readProducerConfig({ ...TOKENS, DATABASE_URL: 'nope' })).toThrow(/DATABASE_URL is not a valid URL/);
    expect(() => readProducerConfig({ ...TOKENS, DATABASE_SCHEMA: 'Bad-Schema' })).toThrow(/DATABASE_SCHEMA/);
    expect(() => readProducerConfig({ ...TOKENS, QUEUE_PREFIX: 'a:b' })).toThrow(/QUEUE_PREFIX/);
    expect(() => readProducerConfig({ ...TOKENS, LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
    expect(() => readProducerConfig({ ...TOKENS, SSE_HEARTBEAT_MS: '10' })).toThrow(/SSE_HEARTBEAT_MS must be between 100/);
  });

  it('takes 0 as "no enqueue rate limit"', () => {
    expect(readProducerConfig({ ...TOKENS, ENQUEUE_RATE_LIMIT_PER_MINUTE: '0' }).enqueueRateLimitPerMinute).toBe(0);
  });
});
