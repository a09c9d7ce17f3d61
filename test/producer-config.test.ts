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
      adminToken: 'admin-token-0123456789abcdef',
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
    expect(() => readProducerConfig({ PRODUCER_API_TOKENS: TOKENS.PRODUCER_API_TOKENS })).toThrow(/ADMIN_API_TOKEN is not set/);
    expect(readProducerConfig({ AUTH_DISABLED: 'true' })).toMatchObject({ authDisabled: true, apiTokens: [], adminToken: undefined });
  });

  it('refuses an admin token that is also an API token, short tokens and tokens with spaces', () => {
    expect(() => readProducerConfig({ ...TOKENS, ADMIN_API_TOKEN: 'api-token-0123456789abcdef' })).toThrow(/ADMIN_API_TOKEN must differ/);
    expect(() => readProducerConfig({ ...TOKENS, PRODUCER_API_TOKENS: 'short' })).toThrow(/PRODUCER_API_TOKENS holds a token shorter than 16/);
    expect(() => readProducerConfig({ ...TOKENS, ADMIN_API_TOKEN: 'admin token with spaces' })).toThrow(/ADMIN_API_TOKEN holds a token with spaces/);
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
