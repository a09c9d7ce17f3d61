/** Counters behind `GET /_sim/stats`. */
import type { Outcome } from './faults.ts';
import type { Usage } from './vendor.ts';

export type RejectReason = 'unauthenticated' | 'unknown_model' | 'invalid_request';

export interface UsageTotals {
  /** Uncached input tokens (cache reads and writes are counted apart, as Anthropic reports them). */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export interface SimulatorStats {
  /** Every call to a model endpoint, rejected ones included. */
  totalRequests: number;
  /** Catalog id → outcome (`ok` or the fault kind) → count. */
  byModel: Record<string, Partial<Record<Outcome, number>>>;
  /** Calls refused before a model was involved. */
  rejected: Record<RejectReason, number>;
  /** Catalog id → tokens of the answers sent. */
  usage: Record<string, UsageTotals>;
  /** Catalog id → repair calls (carrying `<previous_answer>`) and how many of them were answered valid. */
  repairs: Record<string, { calls: number; ok: number }>;
}

export class StatsRecorder {
  private stats = emptyStats();

  request(): void {
    this.stats.totalRequests++;
  }

  reject(reason: RejectReason): void {
    this.stats.rejected[reason]++;
  }

  outcome(model: string, outcome: Outcome): void {
    const counts = (this.stats.byModel[model] ??= {});
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }

  repair(model: string, ok: boolean): void {
    const r = (this.stats.repairs[model] ??= { calls: 0, ok: 0 });
    r.calls++;
    if (ok) r.ok++;
  }

  usage(model: string, usage: Usage): void {
    const totals = (this.stats.usage[model] ??= { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
    totals.inputTokens += usage.inputTokens;
    totals.outputTokens += usage.outputTokens;
    totals.cacheReadTokens += usage.cacheReadTokens;
    totals.cacheWriteTokens += usage.cacheWriteTokens;
  }

  snapshot(): SimulatorStats {
    return structuredClone(this.stats);
  }

  reset(): void {
    this.stats = emptyStats();
  }
}

function emptyStats(): SimulatorStats {
  return { totalRequests: 0, byModel: {}, rejected: { unauthenticated: 0, unknown_model: 0, invalid_request: 0 }, usage: {}, repairs: {} };
}
