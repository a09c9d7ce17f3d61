-- Per-model figures over every attempt, failed ones included: the pass rate the seed's 95%
-- target is about. The seed's validation query counts final outcomes only (WORKFLOW_GENERATED),
-- where a primary answer that failed and was handed over does not appear.
CREATE VIEW "model_attempt_stats_7d" AS
SELECT
  model,
  role,
  count(*)::integer AS attempts,
  count(*) FILTER (WHERE outcome IN ('ok', 'unparseable', 'truncated', 'refusal', 'empty', 'schema', 'semantic'))::integer AS answered,
  count(*) FILTER (WHERE outcome = 'ok')::integer AS passed,
  round(
    count(*) FILTER (WHERE outcome = 'ok') * 100.0
      / nullif(count(*) FILTER (WHERE outcome IN ('ok', 'unparseable', 'truncated', 'refusal', 'empty', 'schema', 'semantic')), 0),
    2
  ) AS validation_pass_rate,
  round(count(*) FILTER (WHERE outcome = 'ok') * 100.0 / count(*), 2) AS success_rate,
  sum(cost_usd) AS cost_usd
FROM generation_attempts
WHERE started_at > now() - interval '7 days'
GROUP BY model, role;
