/**
 * How long the oldest waiting job of each queue has waited, read from Redis at scrape time. A
 * backlog's depth says how much is waiting; this says how late the next answer will be, and it
 * keeps rising when no worker takes jobs at all, which is why producers export it too.
 */
import { Gauge, type Registry } from 'prom-client';

export interface WaitingJobsSource {
  readonly name: string;
  /** BullMQ's Queue#getJobs: `asc` from the oldest. */
  getJobs(types: ['wait', 'prioritized'], start: number, end: number, asc: boolean): Promise<ReadonlyArray<{ readonly timestamp: number } | undefined>>;
}

export function registerOldestWaitingAge(registry: Registry, queues: readonly WaitingJobsSource[], now: () => number = Date.now): void {
  new Gauge({
    name: 'orchestrator_queue_oldest_waiting_age_seconds',
    help: 'Age of the oldest job waiting for a worker in each queue (0 when none waits), read from Redis at scrape time.',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of queues) {
        try {
          const oldest = await q.getJobs(['wait', 'prioritized'], 0, 0, true);
          const stamps = oldest.flatMap((j) => (j ? [j.timestamp] : []));
          this.set({ queue: q.name }, stamps.length === 0 ? 0 : Math.max(0, (now() - Math.min(...stamps)) / 1000));
        } catch {
          // Redis away: export nothing rather than a zero that looks like an empty queue.
        }
      }
    },
  });
}
