/**
 * Progress of requests as server-sent events. One pair of QueueEvents per process (primary and
 * fallback queue) feeds every open stream; an event about a request makes its streams re-read
 * the request's state, and each stream sends the stages it has not sent yet, in pipeline order.
 * Re-reading instead of trusting each event keeps the order right although the two queues'
 * events arrive on two connections, and lets a late subscriber start from the current state.
 */
import type { ServerResponse } from 'node:http';
import { QueueEvents } from 'bullmq';
import type { RedisConnection } from '../shared/redis.ts';
import type { RedisTarget } from '../shared/redis-target.ts';
import { coerceError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { FALLBACK_QUEUE, originOfStepJobId, PRIMARY_QUEUE } from '../shared/jobs.ts';
import { blockingConnection } from '../shared/redis.ts';
import type { GenerationSnapshot, StageEvent } from './generation-status.ts';
import { stageRank } from './generation-status.ts';

const EVENT_KINDS = ['waiting', 'active', 'progress', 'completed', 'failed', 'delayed'] as const;

export type Listener = () => void;

/** Fans the two queues' events out to the streams watching each request id. */
export class GenerationEventHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly connections: RedisConnection[];
  /** Created once its connection is up: a QueueEvents that never connected cannot be closed. */
  private readonly queueEvents: (QueueEvents | undefined)[] = [undefined, undefined];
  private readonly started: Promise<void>[];
  private lastErrorLog = 0;
  private closed = false;

  private readonly options: { redis: RedisTarget; prefix: string; log: Logger };

  constructor(options: { redis: RedisTarget; prefix: string; log: Logger }) {
    this.options = options;
    // QueueEvents block on XREAD: each needs a connection of its own. Reading starts a little in
    // the past, so nothing between construction and the first read is lost.
    const lastEventId = `${Date.now() - 1_000}-0`;
    // Named so CLIENT LIST shows whose they are.
    this.connections = [0, 1].map(() => blockingConnection(options.redis, `${options.prefix}:producer-events`));
    this.started = [PRIMARY_QUEUE, FALLBACK_QUEUE].map((name, i) => {
      const connection = this.connections[i]!;
      connection.on('error', (err) => this.logError(err, name));
      return new Promise<void>((resolve) => {
        connection.once('ready', () => {
          if (this.closed) return;
          const qe = new QueueEvents(name, { connection, prefix: options.prefix, lastEventId, autorun: true });
          this.queueEvents[i] = qe;
          this.wire(qe, i === 1);
          resolve(qe.waitUntilReady().then(() => undefined));
        });
      });
    });
  }

  private logError(err: unknown, queue: string): void {
    // Redis away: the connections retry by themselves; log now and then, not on every retry.
    if (Date.now() - this.lastErrorLog > 30_000 && !this.closed) {
      this.lastErrorLog = Date.now();
      this.options.log.warn({ err: coerceError(err).message, queue }, 'queue events: Redis error, retrying');
    }
  }

  private wire(qe: QueueEvents, isFallback: boolean): void {
    qe.on('error', (err) => this.logError(err, qe.name));
    for (const kind of EVENT_KINDS) {
      qe.on(kind as 'active', (args: { jobId: string }) => {
        // A step job of the ladder (the fallback, or a later step of the chain) speaks for its request.
        const id = isFallback ? originOfStepJobId(args.jobId) : args.jobId;
        if (id !== null) this.notify(id);
      });
    }
  }

  /** Resolves once both event readers are connected; rejects after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(this.started),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`queue events not ready within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  subscribe(id: string, listener: Listener): () => void {
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(id) === set) this.listeners.delete(id);
    };
  }

  get subscriberCount(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  private notify(id: string): void {
    const set = this.listeners.get(id);
    if (!set) return;
    for (const l of [...set]) l();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    // Bounded: a Redis that went away must not hold the shutdown.
    await Promise.all(this.queueEvents.map((q) => (q ? withTimeout(q.close(), 2_000) : undefined)));
    await Promise.all(this.connections.map((c) => (c.status === 'end' ? undefined : withTimeout(c.quit(), 1_000).finally(() => c.disconnect()))));
  }
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** The JSON an event carries: the request id, its stage and the stage's details. */
export function eventData(id: string, e: StageEvent): Record<string, unknown> {
  return { id, ...e };
}

export interface StreamOptions {
  readonly id: string;
  readonly hub: GenerationEventHub;
  readonly read: () => Promise<GenerationSnapshot | null>;
  readonly raw: ServerResponse;
  readonly heartbeatMs: number;
  /** SSE Last-Event-ID of a reconnecting client: stages up to it are not sent again. */
  readonly lastEventId: number;
  readonly log: Logger;
  /** Called when the stream ends, whatever the reason. */
  readonly onEnd: () => void;
}

/**
 * Writes one request's stream: the stages passed so far, then each new one as it happens, then
 * ends after `finished`. A heartbeat comment keeps idle connections open (and re-reads the
 * state, in case an event was lost while Redis was away).
 */
export class EventStream {
  private sentRank: number;
  private started = false;
  private reading = false;
  private dirty = false;
  private ended = false;
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;

  private readonly o: StreamOptions;

  constructor(o: StreamOptions) {
    this.o = o;
    this.sentRank = o.lastEventId;
    // Subscribe before the first read: nothing that happens in between is lost.
    this.unsubscribe = o.hub.subscribe(o.id, () => this.refresh());
    this.heartbeat = setInterval(() => {
      this.write(': heartbeat\n\n');
      this.refresh();
    }, o.heartbeatMs);
    this.heartbeat.unref();
    o.raw.on('close', () => this.end());
  }

  /** Sends the first snapshot (read after subscribing), then whatever happened meanwhile. */
  start(initial: GenerationSnapshot): void {
    this.started = true;
    this.write('retry: 3000\n\n');
    this.send(initial);
    if (this.dirty) {
      this.dirty = false;
      this.refresh();
    }
  }

  /** Re-reads the state; reads never overlap, and a notice during a read causes one more. */
  refresh(): void {
    if (this.ended) return;
    if (this.reading || !this.started) {
      this.dirty = true;
      return;
    }
    this.reading = true;
    this.o
      .read()
      .then(
        (snapshot) => {
          if (snapshot) this.send(snapshot);
        },
        (err: unknown) => this.o.log.warn({ err: coerceError(err).message, jobId: this.o.id }, 'event stream: could not read the request state'),
      )
      .finally(() => {
        this.reading = false;
        if (this.dirty && !this.ended) {
          this.dirty = false;
          this.refresh();
        }
      });
  }

  private send(snapshot: GenerationSnapshot): void {
    for (const e of snapshot.history) {
      const rank = stageRank(e);
      if (rank <= this.sentRank) continue;
      this.sentRank = rank;
      this.write(`id: ${rank}\nevent: ${e.stage}\ndata: ${JSON.stringify(eventData(this.o.id, e))}\n\n`);
    }
    // Finished (a reconnecting client may have seen `finished` already): nothing more will come.
    if (snapshot.view.stage === 'finished') this.end();
  }

  private write(chunk: string): void {
    if (!this.started || this.ended || this.o.raw.writableEnded || this.o.raw.destroyed) return;
    this.o.raw.write(chunk);
  }

  /** Ends the stream (idempotent): after `finished`, when the client leaves, or at shutdown. */
  end(): void {
    if (this.ended) return;
    this.dispose();
    if (this.started && !this.o.raw.writableEnded) this.o.raw.end();
    this.o.onEnd();
  }

  /** Stops listening without touching the response: for a stream that never started (404, 503). */
  dispose(): void {
    this.ended = true;
    clearInterval(this.heartbeat);
    this.unsubscribe();
  }
}
