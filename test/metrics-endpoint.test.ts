/**
 * The worker's metrics endpoint as Prometheus and Kubernetes use it: /healthz for probes,
 * /metrics for scrapes over one keep-alive connection, and a stop that is not held up by that
 * connection (Prometheus reuses it every scrape interval, so it never goes idle).
 */
import { Gauge } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type Harness, startHarness } from './helpers/harness.ts';
import { keepScraping } from './helpers/prometheus.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('metrics-endpoint');
});
afterAll(async () => {
  await h?.close();
});

describe('worker metrics endpoint', () => {
  it('answers /healthz and /metrics, and closes while a scrape connection stays busy', async () => {
    const runtime = await h.startWorker();
    const url = new URL(runtime.metricsUrl!);
    const health = await fetch(new URL('/healthz', url));
    expect(health.status).toBe(200);
    const metrics = await (await fetch(url)).text();
    expect(metrics).toContain('orchestrator_workflow_requests_total{');

    // A slow collector keeps every scrape in flight for a while, so close() lands mid-request.
    new Gauge({
      name: 'test_slow_collect',
      help: 'Slows scrapes down for this test.',
      registers: [runtime.registry],
      async collect() {
        await new Promise((r) => setTimeout(r, 100));
        this.set(1);
      },
    });
    const scraper = keepScraping(url.hostname, url.port);
    await eventually(async () => scraper.scrapes() > 0, { what: 'a first scrape over the kept-alive connection' });

    const started = Date.now();
    const closed = await Promise.race([runtime.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 8_000))]);
    await scraper.stop();
    expect(closed).toBe('closed');
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
