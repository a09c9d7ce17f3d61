/**
 * Runs one vendor call under the attempt's timeout and the caller's abort signal, and turns
 * whatever it throws into a classified failure.
 */
import { classifyCallError } from './classify-error.js';
import type { LlmCall, LlmResult } from './llm-client.js';

export async function withAttemptSignal(call: LlmCall, run: (signal: AbortSignal) => Promise<LlmResult>): Promise<LlmResult> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error('attempt timed out')), call.timeoutMs);
  const signal = AbortSignal.any([timeout.signal, call.signal]);
  try {
    return await run(signal);
  } catch (err) {
    return classifyCallError(err, { timedOut: timeout.signal.aborted && !call.signal.aborted, shutdown: call.signal.aborted });
  } finally {
    clearTimeout(timer);
  }
}
