/** Drizzle schema: settings, one result row per request, one row per model attempt, audit rows. */
import { type SQL, sql } from 'drizzle-orm';
import { bigserial, boolean, check, date, doublePrecision, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { ATTEMPT_OUTCOMES, ATTEMPT_ROLES, AUDIT_ACTIONS, AUDIT_SEVERITIES, FINAL_AUDIT_ACTIONS, GENERATION_STATUSES } from '../shared/outcomes.ts';

/** USD with 12 decimals: exact for any per-token price with up to six decimals per 1M tokens. */
const usd = (name: string) => numeric(name, { precision: 20, scale: 12 });
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
/** USD per 1M tokens, up to six decimals: what money.ts prices exactly. */
const perMTok = (name: string) => numeric(name, { precision: 20, scale: 6 });

/**
 * `('a', 'b')`: a closed set of shared/outcomes.ts as SQL literals, for CHECK constraints and
 * partial indexes (inlined, not bound: drizzle-kit writes them into the migration as text).
 */
export function oneOf(values: readonly string[]): SQL {
  return sql.raw(`(${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ')})`);
}

export const systemSettingsConfig = pgTable('system_settings_config', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  category: text('category').notNull(),
  description: text('description'),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  updatedBy: text('updated_by'),
});

export const workflowGenerations = pgTable(
  'workflow_generations',
  {
    jobId: text('job_id').primaryKey(),
    userId: text('user_id'),
    agentId: text('agent_id'),
    request: jsonb('request').notNull(),
    status: text('status').notNull().default('queued'),
    /** The settings the request runs under, fixed at its first pick-up. */
    settings: jsonb('settings'),
    workflow: jsonb('workflow'),
    stepsGenerated: integer('steps_generated'),
    generatorUsed: text('generator_used'),
    primaryModel: text('primary_model'),
    fallbackReason: text('fallback_reason'),
    validationPassed: boolean('validation_passed'),
    validationErrors: jsonb('validation_errors'),
    failureReason: text('failure_reason'),
    attempts: integer('attempts').notNull().default(0),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
    cacheWriteTokens: integer('cache_write_tokens').notNull().default(0),
    totalTokens: integer('total_tokens').notNull().default(0),
    costUsd: usd('cost_usd').notNull().default('0'),
    enqueuedAt: ts('enqueued_at'),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
    generationTimeMs: integer('generation_time_ms'),
    /** Times the lost-request sweep put the request back in the queue (worker/lost-request-sweep.ts). */
    requeues: integer('requeues').notNull().default(0),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('workflow_generations_status_check', sql`${t.status} in ${oneOf(GENERATION_STATUSES)}`),
    index('workflow_generations_finished_at_idx').on(t.finishedAt),
    index('workflow_generations_user_idx').on(t.userId, t.createdAt),
    // The sweep's scan: unfinished requests, oldest first; finished rows (nearly all) stay out of it.
    index('workflow_generations_unfinished_idx').on(t.createdAt).where(sql`status = 'queued'`),
  ],
);

export const generationAttempts = pgTable(
  'generation_attempts',
  {
    jobId: text('job_id').notNull(),
    attemptNumber: integer('attempt_number').notNull(),
    model: text('model').notNull(),
    provider: text('provider').notNull(),
    role: text('role').notNull(),
    outcome: text('outcome').notNull(),
    validationErrors: jsonb('validation_errors'),
    errorMessage: text('error_message'),
    httpStatus: integer('http_status'),
    retryAfterMs: integer('retry_after_ms'),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
    cacheWriteTokens: integer('cache_write_tokens').notNull().default(0),
    costUsd: usd('cost_usd').notNull(),
    /** The prices the attempt was charged at (null on rows older than the catalog table). */
    priceInputPerMTok: perMTok('price_input_per_mtok'),
    priceOutputPerMTok: perMTok('price_output_per_mtok'),
    priceCachedInputPerMTok: perMTok('price_cached_input_per_mtok'),
    priceCacheWritePerMTok: perMTok('price_cache_write_per_mtok'),
    latencyMs: integer('latency_ms').notNull(),
    /** The settings in force for the whole request: one consistent set per job. */
    settings: jsonb('settings').notNull(),
    startedAt: ts('started_at').notNull(),
    finishedAt: ts('finished_at').notNull(),
  },
  (t) => [
    primaryKey({ name: 'generation_attempts_pkey', columns: [t.jobId, t.attemptNumber] }),
    check('generation_attempts_role_check', sql`${t.role} in ${oneOf(ATTEMPT_ROLES)}`),
    check('generation_attempts_outcome_check', sql`${t.outcome} in ${oneOf(ATTEMPT_OUTCOMES)}`),
    index('generation_attempts_model_time_idx').on(t.model, t.startedAt),
  ],
);

export const auditLogs = pgTable(
  'audit_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    timestamp: ts('timestamp').notNull().defaultNow(),
    action: text('action').notNull(),
    severity: text('severity').notNull(),
    compliance: text('compliance').notNull().default('SOC2'),
    userId: text('user_id'),
    agentId: text('agent_id'),
    jobId: text('job_id'),
    details: jsonb('details').notNull(),
  },
  (t) => [
    check('audit_logs_severity_check', sql`${t.severity} in ${oneOf(AUDIT_SEVERITIES)}`),
    index('audit_logs_action_timestamp_idx').on(t.action, t.timestamp),
    // Exactly one final audit row per request, whatever retries and crashes happen.
    uniqueIndex('audit_logs_one_final_per_job')
      .on(t.jobId)
      .where(sql`action in ${oneOf(FINAL_AUDIT_ACTIONS)}`),
    // One hand-over row per step of the ladder (details.step; rows from before the chain are step 1).
    uniqueIndex('audit_logs_one_fallback_per_step')
      .on(t.jobId, sql`(coalesce((${t.details} ->> 'step')::integer, 1))`)
      .where(sql`action = ${sql.raw(`'${AUDIT_ACTIONS.fallback}'`)}`),
  ],
);

/** The model catalog: one row per model the orchestrator may call (see shared/models.ts). */
export const modelCatalog = pgTable(
  'model_catalog',
  {
    id: text('id').primaryKey(),
    provider: text('provider').notNull(),
    apiModel: text('api_model').notNull(),
    label: text('label').notNull(),
    description: text('description').notNull().default(''),
    baseUrl: text('base_url'),
    /** The NAME of the environment variable holding the key; keys never go into the database. */
    apiKeyEnv: text('api_key_env'),
    structuredOutput: text('structured_output').notNull(),
    temperature: doublePrecision('temperature'),
    tokenLimitParam: text('token_limit_param').notNull(),
    reasoningEffort: text('reasoning_effort'),
    priceInputPerMTok: perMTok('price_input_per_mtok').notNull(),
    priceOutputPerMTok: perMTok('price_output_per_mtok').notNull(),
    priceCachedInputPerMTok: perMTok('price_cached_input_per_mtok').notNull(),
    priceCacheWritePerMTok: perMTok('price_cache_write_per_mtok').notNull(),
    priceSourceUrl: text('price_source_url'),
    priceReadAt: date('price_read_at', { mode: 'string' }),
    contextWindowTokens: integer('context_window_tokens').notNull(),
    maxOutputTokens: integer('max_output_tokens').notNull(),
    timeoutMs: integer('timeout_ms').notNull(),
    deprecatedAt: ts('deprecated_at'),
    shutdownAt: ts('shutdown_at'),
    replacementId: text('replacement_id'),
    lifecycleSourceUrl: text('lifecycle_source_url'),
    enabled: boolean('enabled').notNull().default(true),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    updatedBy: text('updated_by'),
  },
  (t) => [
    check('model_catalog_provider_check', sql`${t.provider} in ('openai', 'anthropic', 'openai-compatible')`),
    check('model_catalog_structured_output_check', sql`${t.structuredOutput} in ('json_schema', 'tool', 'json_object', 'prompt')`),
    check('model_catalog_token_limit_param_check', sql`${t.tokenLimitParam} in ('max_tokens', 'max_completion_tokens')`),
    check(
      'model_catalog_prices_check',
      sql`${t.priceInputPerMTok} > 0 and ${t.priceOutputPerMTok} > 0 and ${t.priceCachedInputPerMTok} >= 0 and ${t.priceCacheWritePerMTok} >= 0`,
    ),
  ],
);
