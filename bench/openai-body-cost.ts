/**
 * `node bench/openai-body-cost.ts`: the CPU the OpenAI adapter's pre-serialised request body
 * (chatCompletionBody in worker/llm/openai-client.ts) saves per call against the SDK serialising
 * the params itself (JSON.stringify of chatCompletionParams, what `chat.completions.create`
 * does), on the worker's real prompts: µs per call, each way, in one process, alternated.
 * The saving can only be a share of a job's CPU, so it bounds the throughput gain at a
 * CPU-bound load; compare it with the worker CPU per job from `npm run bench -- --only http-ab`.
 */
import { MODEL_CATALOG } from '../shared/default-catalog.ts';
import { sampleRequestParts } from '../test/helpers/sample-requests.ts';
import { chatCompletionBody, chatCompletionParams } from '../worker/llm/openai-client.ts';
import type { LlmCall } from '../worker/llm/llm-client.ts';
import { MAX_WORKFLOW_OUTPUT_TOKENS, SYSTEM_PROMPT, userPrompt } from '../worker/prompt.ts';
import { summarize } from './lib/stats.ts';

const model = MODEL_CATALOG.find((m) => m.provider === 'openai')!;
const calls: LlmCall[] = Array.from({ length: 1_000 }, (_, i) => {
  const { userGoal, availablePlugins } = sampleRequestParts(i);
  return {
    model,
    systemPrompt: SYSTEM_PROMPT,
    userPrompt: userPrompt({ userId: `u${i}`, agentId: `a${i}`, userGoal, availablePlugins }),
    maxOutputTokens: Math.min(model.maxOutputTokens, MAX_WORKFLOW_OUTPUT_TOKENS),
    signal: new AbortController().signal,
    timeoutMs: 30_000,
  };
});

let sink = 0;
const usPerCall = (body: (call: LlmCall) => string): number => {
  const t0 = performance.now();
  // byteLength flattens the string and reads it all, as sending it does: a concatenation is
  // only a rope until then.
  for (const call of calls) sink += Buffer.byteLength(body(call));
  return ((performance.now() - t0) * 1000) / calls.length;
};
const viaSdk = (call: LlmCall) => JSON.stringify(chatCompletionParams(call));

if (chatCompletionBody(calls[0]!) !== viaSdk(calls[0]!)) throw new Error('the two bodies differ');
for (let i = 0; i < 20; i++) usPerCall(chatCompletionBody), usPerCall(viaSdk); // warm-up
const pre: number[] = [];
const sdk: number[] = [];
for (let i = 0; i < 200; i++) {
  pre.push(usPerCall(chatCompletionBody));
  sdk.push(usPerCall(viaSdk));
}
const [a, b] = [summarize(pre).p50, summarize(sdk).p50];
console.log(`body of ${chatCompletionBody(calls[0]!).length} bytes: pre-serialised ${a.toFixed(1)} µs, SDK-serialised ${b.toFixed(1)} µs per call, flattened and measured in UTF-8 bytes as sending does (median of 200 × 1,000 calls); saves ${(b - a).toFixed(1)} µs (${sink > 0 ? 'ok' : ''})`);
