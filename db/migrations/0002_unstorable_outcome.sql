ALTER TABLE "generation_attempts" DROP CONSTRAINT "generation_attempts_outcome_check";--> statement-breakpoint
ALTER TABLE "generation_attempts" ADD CONSTRAINT "generation_attempts_outcome_check" CHECK ("generation_attempts"."outcome" in ('ok', 'unparseable', 'truncated', 'refusal', 'empty', 'schema', 'semantic', 'unstorable', 'rate_limit', 'timeout', 'api_error', 'auth_error'));--> statement-breakpoint
-- `unstorable` (the answer held NUL or a lone surrogate) is an answer, like the other validation failures.
CREATE OR REPLACE VIEW "model_attempt_stats_7d" AS
SELECT
  model,
  role,
  count(*)::integer AS attempts,
  count(*) FILTER (WHERE outcome IN ('ok', 'unparseable', 'truncated', 'refusal', 'empty', 'schema', 'semantic', 'unstorable'))::integer AS answered,
  count(*) FILTER (WHERE outcome = 'ok')::integer AS passed,
  round(
    count(*) FILTER (WHERE outcome = 'ok') * 100.0
      / nullif(count(*) FILTER (WHERE outcome IN ('ok', 'unparseable', 'truncated', 'refusal', 'empty', 'schema', 'semantic', 'unstorable')), 0),
    2
  ) AS validation_pass_rate,
  round(count(*) FILTER (WHERE outcome = 'ok') * 100.0 / count(*), 2) AS success_rate,
  sum(cost_usd) AS cost_usd
FROM generation_attempts
WHERE started_at > now() - interval '7 days'
GROUP BY model, role;
