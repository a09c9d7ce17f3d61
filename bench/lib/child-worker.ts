/**
 * The life of a benchmark's own worker process (bench/raw-worker.ts, bench/floor-worker.ts): log
 * errors, say "worker started" once ready (what the benchmark waits for, as with worker/main.ts),
 * and on SIGTERM or SIGINT close the worker, then anything else the process opened.
 */
import type { Worker } from 'bullmq';

export async function runUntilStopped(worker: Worker, started: Record<string, unknown>, closeOthers: () => Promise<void> = async () => {}): Promise<void> {
  worker.on('error', (err) => console.error(JSON.stringify({ level: 50, msg: 'worker error', err: err.message })));
  await worker.waitUntilReady();
  console.log(JSON.stringify({ level: 30, msg: 'worker started', ...started }));
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(130);
    stopping = true;
    worker
      .close()
      .then(closeOthers)
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
