/**
 * Group commit for the hot-path writes: calls of one write that arrive while earlier ones are
 * still in flight are sent together, as one statement and one commit.
 *
 * A request's `begin` and `finish` are each one statement, but under load every one of them was
 * still one message written to a socket, one statement for Postgres to plan and run, and one
 * commit; when hundreds of model calls return within a few hundred milliseconds (a wave of a
 * slow model), the worker's one thread and Postgres spent their time on exactly that. Batching
 * only what is already waiting adds no delay when the load is light: a call that finds fewer
 * than `maxInFlight` batches in flight goes out on the next `setImmediate`, with the calls made
 * in the same turn of the event loop; alone, it runs the single-item statement.
 */

export interface WriteBatcherOptions<I, O> {
  /** Writes the items as one atomic statement; one outcome per item, in the items' order. */
  readonly runBatch: (items: readonly I[]) => Promise<readonly O[]>;
  /** Writes one item on its own: a batch of one, and each item of a batch that failed. */
  readonly runOne: (item: I) => Promise<O>;
  /**
   * Items with the same key never share a batch (one request's write, sent twice); a batch is
   * sent in key order, so two batches lock the rows they share in the same order.
   */
  readonly key: (item: I) => string;
  /**
   * Errors after which the batch's items are failed as they are instead of each being sent
   * again alone: a lost connection would fail every one of them too, at once, with no backoff;
   * the caller's own retry waits it out.
   */
  readonly isTransient?: (err: unknown) => boolean;
  /** Largest batch (default 50). */
  readonly maxBatch?: number;
  /** Batches in flight at once; more calls wait and form the next batch (default 4). */
  readonly maxInFlight?: number;
  /** Told of each batch sent: its size, and whether it was written as one statement or item by item. */
  readonly onBatch?: (report: BatchReport) => void;
}

export interface BatchReport {
  readonly size: number;
  /** `single`: a batch of one; `batched`: one statement; `one_by_one`: the statement failed, each item was written alone. */
  readonly written: 'single' | 'batched' | 'one_by_one';
}

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (reason: unknown) => void;
}

export class WriteBatcher<I, O> {
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private waiting: Pending<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;

  private readonly options: WriteBatcherOptions<I, O>;

  constructor(options: WriteBatcherOptions<I, O>) {
    this.options = options;
    this.maxBatch = Math.max(1, options.maxBatch ?? 50);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Sends at the end of the current turn of the event loop, so calls made in it go together. */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.take();
      this.inFlight++;
      this.send(batch)
        .catch((err: unknown) => {
          // Only a throwing callback gets here; no call may be left unanswered.
          for (const p of batch) p.reject(err);
        })
        .finally(() => {
          this.inFlight--;
          this.schedule();
        });
    }
  }

  /** The oldest waiting calls, up to `maxBatch`, no key twice; the rest keep their order. */
  private take(): Pending<I, O>[] {
    const batch: Pending<I, O>[] = [];
    const keys = new Set<string>();
    const rest: Pending<I, O>[] = [];
    for (const p of this.waiting) {
      const key = this.options.key(p.item);
      if (batch.length < this.maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(p);
      } else rest.push(p);
    }
    this.waiting = rest;
    return batch.length > 1 ? batch.map((p) => [this.options.key(p.item), p] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p) : batch;
  }

  private async send(batch: readonly Pending<I, O>[]): Promise<void> {
    if (batch.length > 1) {
      let outcomes: readonly O[] | undefined;
      try {
        outcomes = await this.options.runBatch(batch.map((p) => p.item));
        if (outcomes.length !== batch.length) throw new Error(`batched write returned ${outcomes.length} outcomes for ${batch.length} items`);
      } catch (err) {
        if (this.options.isTransient?.(err)) {
          this.report(batch.length, 'batched');
          for (const p of batch) p.reject(err);
          return;
        }
        // The statement is atomic: whatever failed it (one item's bad value, a deadlock), it
        // wrote nothing or all of it, and every write is idempotent. Each item is written on
        // its own, so it gets its own outcome or error.
        outcomes = undefined;
      }
      if (outcomes) {
        this.report(batch.length, 'batched');
        batch.forEach((p, i) => p.resolve(outcomes[i]!));
        return;
      }
    }
    this.report(batch.length, batch.length > 1 ? 'one_by_one' : 'single');
    await Promise.all(batch.map((p) => Promise.resolve(p.item).then(this.options.runOne).then(p.resolve, p.reject)));
  }

  private report(size: number, written: BatchReport['written']): void {
    try {
      this.options.onBatch?.({ size, written });
    } catch {
      // A metrics hook must not fail the writes it reports on.
    }
  }
}
