/**
 * The Prometheus recording and alert rules, checked and unit-tested by promtool (Debian's
 * `prometheus` package), and the compose Prometheus config checked the same way.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from './helpers/prometheus.ts';
import { PROMETHEUS_CONFIG_FILE, readRules, RULES_FILE, RULES_TEST_FILE, syntaxErrors } from './helpers/promql.ts';

describe('prometheus rules', () => {
  it('promtool check rules accepts the rule file', async () => {
    const r = await run('promtool', ['check', 'rules', RULES_FILE]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('promtool test rules: every alert fires when it should and stays quiet when it should not', async () => {
    const r = await run('promtool', ['test', 'rules', RULES_TEST_FILE], { cwd: dirname(RULES_TEST_FILE), timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('has the alerts of issue 5, each with a severity, a summary and a unit test', () => {
    const rules = readRules().map((r) => r.rule);
    const alerts = new Map(rules.filter((r) => r.alert).map((r) => [r.alert!, r]));
    for (const name of [
      'OrchestratorFallbackRateHigh',
      'OrchestratorValidationPassRateLow',
      'OrchestratorQueueBacklogGrowing',
      'OrchestratorNoWorkerUp',
      'OrchestratorCostSpike',
      'OrchestratorRateLimitStorm',
      'OrchestratorJobsFailing',
    ]) {
      const a = alerts.get(name);
      expect(a, name).toBeDefined();
      expect(['warning', 'critical']).toContain(a!.labels?.severity);
      expect(a!.annotations?.summary).toBeTruthy();
    }
    expect(alerts.get('OrchestratorFallbackRateHigh')).toMatchObject({ for: '15m' });
    expect(alerts.get('OrchestratorFallbackRateHigh')!.expr).toMatch(/> 0\.10?\b/);
    // Every replica gone means no `up` series at all: only absent() sees that.
    expect(alerts.get('OrchestratorNoWorkerUp')!.expr.replace(/\s+/g, ' ')).toContain('absent(up{job="worker"} == 1)');
    expect(alerts.get('OrchestratorCostSpike')!.expr).toContain('offset 1d');
    const tests = readFileSync(RULES_TEST_FILE, 'utf8');
    for (const name of alerts.keys()) expect(tests, `no unit test for ${name}`).toContain(`alertname: ${name}`);
    for (const r of rules) expect(syntaxErrors(r.expr), r.record ?? r.alert).toEqual([]);
  });

  it('recording rules follow the level:metric:operations naming', () => {
    for (const { rule } of readRules()) if (rule.record) expect(rule.record).toMatch(/^orchestrator:[a-z0-9_]+:[a-z0-9_]+$/);
  });

  it('promtool check config accepts the compose Prometheus config (DNS discovery of worker replicas)', async () => {
    const r = await run('promtool', ['check', 'config', PROMETHEUS_CONFIG_FILE]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});
