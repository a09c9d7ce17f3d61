/**
 * Runs one vendor call under the attempt's timeout and the caller's abort signal, and turns
 * whatever it throws into a classified failure.
 */
import { classifyCallError } from './classify-error.ts';
import type { LlmCall, LlmResult } from './llm-client.ts';

/**
 * The calls in flight under each caller signal (the worker's one shutdown signal), behind one
 * listener per signal: an EventTarget scans its whole listener list on every add and remove, so
 * a listener per call cost O(calls in flight) each, ~2% of the worker's CPU at a thousand. The
 * listener goes when the last call under it ends, so a caller's short-lived signal is not kept.
 */
const inFlight = new WeakMap<AbortSignal, { readonly calls: Set<() => void>; readonly listener: () => void }>();

function onAbortOf(signal: AbortSignal, callback: () => void): () => void {
  let entry = inFlight.get(signal);
  if (!entry) {
    const calls = new Set<() => void>();
    const listener = (): void => {
      inFlight.delete(signal);
      for (const cb of [...calls]) cb();
    };
    entry = { calls, listener };
    inFlight.set(signal, entry);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { calls, listener } = entry;
  calls.add(callback);
  return () => {
    calls.delete(callback);
    if (calls.size === 0 && inFlight.get(signal)?.calls === calls) {
      inFlight.delete(signal);
      signal.removeEventListener('abort', listener);
    }
  };
}

export async function withAttemptSignal(call: LlmCall, run: (signal: AbortSignal) => Promise<LlmResult>): Promise<LlmResult> {
  // One controller for both causes, with a listener removed when the call ends. AbortSignal.any
  // would register a dependent signal on the long-lived shutdown signal for every call, kept
  // until garbage collection: measurable CPU and memory at a thousand calls in flight.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('attempt timed out'));
  }, call.timeoutMs);
  const onAbort = () => controller.abort(call.signal.reason);
  let forget = (): void => {};
  if (call.signal.aborted) onAbort();
  else forget = onAbortOf(call.signal, onAbort);
  try {
    return await run(controller.signal);
  } catch (err) {
    return classifyCallError(err, { timedOut: timedOut && !call.signal.aborted, shutdown: call.signal.aborted });
  } finally {
    clearTimeout(timer);
    forget();
  }
}
