/**
 * Jobs in each queue by state, read from Redis at scrape time: exported by the worker and the
 * producer alike (a backlog shows even when no worker runs), so both define it here.
 */
import { Gauge, type Registry } from 'prom-client';

export interface QueueDepthSource {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed', 'paused'] as const;

export function registerQueueDepth(registry: Registry, queues: readonly QueueDepthSource[]): void {
  new Gauge({
    name: 'orchestrator_queue_jobs',
    help: 'Jobs in each queue by state, read from Redis at scrape time.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of queues) {
        try {
          const counts = await q.getJobCounts(...QUEUE_STATES);
          for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
        } catch {
          // Redis away: export nothing rather than zeros that look like an empty queue.
        }
      }
    },
  });
}
