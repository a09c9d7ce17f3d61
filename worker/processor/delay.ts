import { DelayedError, type Job } from 'bullmq';

/** Puts the job back in the queue until `untilMs` without counting an attempt (BullMQ's DelayedError). */
export async function delayUntil(job: Job, token: string | undefined, untilMs: number): Promise<never> {
  await job.moveToDelayed(Math.ceil(untilMs), token);
  throw new DelayedError();
}
