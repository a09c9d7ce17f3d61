/**
 * The seed design's three monitoring queries, verbatim. They read final outcomes
 * (WORKFLOW_GENERATED rows) only; per-attempt figures live in generation_attempts and the
 * model_attempt_stats_7d view.
 */
export const SEED_FALLBACK_RATE = `SELECT
  COUNT(*) FILTER (WHERE details->>'fallback_reason' IS NOT NULL) * 100.0 / COUNT(*) as fallback_percentage,
  COUNT(*) as total_workflows
FROM audit_logs
WHERE action = 'WORKFLOW_GENERATED'
AND timestamp > NOW() - INTERVAL '7 days';`;

export const SEED_COST_BY_GENERATOR = `SELECT
  details->>'generator_used' as generator,
  COUNT(*) as workflows_generated,
  SUM((details->>'cost_usd')::decimal) as total_cost,
  AVG((details->>'cost_usd')::decimal) as avg_cost_per_workflow
FROM audit_logs
WHERE action = 'WORKFLOW_GENERATED'
AND timestamp > NOW() - INTERVAL '30 days'
GROUP BY details->>'generator_used';`;

export const SEED_VALIDATION_SUCCESS_RATE = `SELECT
  details->>'generator_used' as generator,
  COUNT(*) FILTER (WHERE (details->>'validation_passed')::boolean = true) * 100.0 / COUNT(*) as validation_success_rate
FROM audit_logs
WHERE action = 'WORKFLOW_GENERATED'
AND timestamp > NOW() - INTERVAL '7 days'
GROUP BY details->>'generator_used';`;
