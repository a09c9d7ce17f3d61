/**
 * Metrics for the on-call dashboard that are not about one request's outcome: how long jobs wait
 * for a worker, and which settings and catalog a worker runs with (Grafana draws a change of
 * either as an annotation: a model switch is the likeliest cause of a jump in the fallback rate).
 */
import { createHash } from 'node:crypto';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { CIRCUIT_STATE_VALUE, type ModelCircuit } from '../shared/model-circuit.ts';
import type { ModelCatalog } from '../shared/models.ts';
import { FALLBACK_QUEUE, PRIMARY_QUEUE } from '../shared/jobs.ts';
import { configuredModels } from '../shared/settings.ts';
import type { SettingsSource } from './settings-source.ts';

export interface OperationsMetrics {
  /** A job's first pick-up: the time it spent in the queue. */
  observePickUp(queue: string, job: { readonly timestamp: number; readonly processedOn?: number; readonly attemptsStarted: number }): void;
}

/** A short, stable fingerprint of the catalog in force: ids, API models and prices. */
export function catalogVersion(catalog: ModelCatalog): string {
  const canonical = JSON.stringify(catalog.models.map((m) => [m.id, m.apiModel, m.pricing]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

export function createOperationsMetrics(registry: Registry, settings: SettingsSource, circuit?: ModelCircuit): OperationsMetrics {
  const registers = [registry];
  registerCircuitState(registry, settings, circuit);
  const wait = new Histogram({
    name: 'orchestrator_queue_wait_seconds',
    help: 'Time from a job being added to its first pick-up by a worker, by queue.',
    labelNames: ['queue'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  for (const queue of [PRIMARY_QUEUE, FALLBACK_QUEUE]) wait.zero({ queue });
  new Gauge({
    name: 'orchestrator_settings_info',
    help: 'The model settings this worker applies now (value 1); a new label set marks a settings change.',
    labelNames: ['primary_model', 'fallback_model', 'enable_fallback'],
    registers,
    collect() {
      const s = settings.current();
      this.reset();
      this.set({ primary_model: s.primaryModel, fallback_model: s.fallbackModel, enable_fallback: String(s.enableFallback) }, 1);
    },
  });
  new Gauge({
    name: 'orchestrator_ladder_setting',
    help: 'The escalation ladder this worker applies now: chain_steps (models after the primary; 0 with fallback off), repair_attempts, and max_cost_per_request_usd (absent: no cap).',
    labelNames: ['setting'],
    registers,
    collect() {
      const s = settings.current();
      this.reset();
      this.set({ setting: 'chain_steps' }, s.enableFallback ? s.fallbackChain.length : 0);
      this.set({ setting: 'repair_attempts' }, s.repairAttempts);
      if (s.maxCostPerRequestUsd !== null) this.set({ setting: 'max_cost_per_request_usd' }, Number(s.maxCostPerRequestUsd));
    },
  });
  new Gauge({
    name: 'orchestrator_catalog_info',
    help: 'The model catalog this worker prices with (value 1), by a fingerprint of its ids, API models and prices; the table is re-read with the settings, so a new label set marks a catalog change.',
    labelNames: ['catalog_version'],
    registers,
    collect() {
      this.reset();
      this.set({ catalog_version: catalogVersion(settings.current().catalog) }, 1);
    },
  });
  return {
    observePickUp(queue, job) {
      // Retries, stalled jobs and jobs back from a rate-limit pause waited on purpose or were
      // counted already: BullMQ counts every move to active, so first pick-ups only.
      if (job.attemptsStarted !== 1 || job.processedOn === undefined) return;
      wait.observe({ queue }, Math.max(0, (job.processedOn - job.timestamp) / 1000));
    },
  };
}

/**
 * Each configured model's circuit (primary and the fallback chain: a bounded label set), read
 * from Redis at scrape time; every replica reports the same shared state, so panels take the max.
 * A scrape while Redis is down leaves the series out rather than failing the scrape.
 */
function registerCircuitState(registry: Registry, settings: SettingsSource, circuit: ModelCircuit | undefined): void {
  new Gauge({
    name: 'orchestrator_model_circuit_state',
    help: "Each configured model's circuit: 0 closed, 1 half-open (a probe call is testing it), 2 open (calls skip the model).",
    labelNames: ['model'],
    registers: [registry],
    async collect() {
      const s = settings.current();
      const models = [...new Set(configuredModels(s).map((c) => c.model.id))];
      this.reset();
      if (!circuit) return;
      try {
        for (const v of await circuit.views(models)) this.set({ model: v.model }, CIRCUIT_STATE_VALUE[v.state]);
      } catch {
        // Redis unreachable: no sample this scrape.
      }
    },
  });
}
