/**
 * Runs one vendor call under the attempt's timeout and the caller's abort signal, and turns
 * whatever it throws into a classified failure.
 */
import { setMaxListeners } from 'node:events';
import { classifyCallError } from './classify-error.js';
import type { LlmCall, LlmResult } from './llm-client.js';

/** Caller signals already allowed any number of listeners (one per call in flight). */
const unbounded = new WeakSet<AbortSignal>();

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
  if (!unbounded.has(call.signal)) {
    setMaxListeners(0, call.signal);
    unbounded.add(call.signal);
  }
  if (call.signal.aborted) onAbort();
  else call.signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await run(controller.signal);
  } catch (err) {
    return classifyCallError(err, { timedOut: timedOut && !call.signal.aborted, shutdown: call.signal.aborted });
  } finally {
    clearTimeout(timer);
    call.signal.removeEventListener('abort', onAbort);
  }
}
