/**
 * Every metric the producer exports, in its own registry. Labels come from closed sets: the
 * route template (never the raw URL), the method, the status code, queue names and job states.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { type QueueDepthSource, registerQueueDepth } from '../shared/queue-depth.ts';

export interface ProducerMetrics {
  readonly registry: Registry;
  /** Times one enqueue (contract check and Redis write). */
  observeEnqueue(seconds: number, outcome: 'ok' | 'error'): void;
  /** Counts one ENQUEUE_WAIT_REPLICAS wait by what it found. */
  countReplicaWait(outcome: ReplicaWaitOutcome): void;
}

/** `replicated`: enough replicas had the job; `short`: fewer by the timeout; `error`: the WAIT failed. */
export type ReplicaWaitOutcome = 'replicated' | 'short' | 'error';

/** The route label of requests that matched no route: one value, whatever URL was asked for. */
export const UNMATCHED_ROUTE = 'unmatched';

export function createProducerMetrics(options: { queues: readonly QueueDepthSource[]; processMetrics: boolean }): ProducerMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  registerQueueDepth(registry, options.queues);
  const enqueue = new Histogram({
    name: 'orchestrator_enqueue_duration_seconds',
    help: 'Time to enqueue one generation request (contract check and Redis write), by outcome.',
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  // Both series exist at zero from the start: a burst of enqueues that falls between two
  // scrapes would otherwise appear at its final count and never show in rate().
  for (const outcome of ['ok', 'error'] as const) enqueue.zero({ outcome });
  const replicaWaits = new Counter({
    name: 'orchestrator_enqueue_replica_waits_total',
    help: 'Waits for replicas after an enqueue (ENQUEUE_WAIT_REPLICAS), by outcome: replicated, short (timed out with fewer), error.',
    labelNames: ['outcome'],
    registers,
  });
  // At zero from the start, so the dashboard's panel reads 0 (not "no data") while WAIT is off.
  for (const outcome of ['replicated', 'short', 'error'] as const) replicaWaits.inc({ outcome }, 0);
  return {
    registry,
    observeEnqueue(seconds, outcome) {
      enqueue.observe({ outcome }, seconds);
    },
    countReplicaWait(outcome) {
      replicaWaits.inc({ outcome });
    },
  };
}

/** Counts and times every HTTP request by route template, method and status. */
export function instrumentHttp(app: FastifyInstance, registry: Registry): void {
  const registers = [registry];
  const requests = new Counter({
    name: 'orchestrator_http_requests_total',
    help: 'HTTP requests by route template, method and status code.',
    labelNames: ['route', 'method', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: 'orchestrator_http_request_duration_seconds',
    help: 'HTTP request duration by route template and method (event streams: the whole stream).',
    labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  // Runs when the response is finished, event streams included (their duration is the stream's).
  app.addHook('onResponse', async (request, reply) => {
    const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
    requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    duration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });
}
