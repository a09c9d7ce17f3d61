/**
 * The floor of the overhead scenario: the least any pipeline that meets issue 6 must do for a
 * job. It calls the model through the official SDK over HTTP (the worker's own adapter, on the
 * SDK's own HTTP path) and writes the answer to Postgres in one durable row. It does nothing else: no contract
 * check, pick-up row, pause check, validation, attempt or audit rows, money, metrics or progress
 * events. It is not a product. It shows how far the overhead target is from what these parts
 * allow on the machine. Run as a child process (`node bench/floor-worker.ts`), like
 * worker/main.ts and bench/raw-worker.ts.
 */
import { Worker } from 'bullmq';
import postgres from 'postgres';
import { readRedisConfig } from '../shared/config.ts';
import { findModel } from '../shared/default-catalog.ts';
import { type GenerationRequest, PRIMARY_QUEUE } from '../shared/jobs.ts';
import { blockingConnection } from '../shared/redis.ts';
import { OpenAiLlmClient } from '../worker/llm/openai-client.ts';
import { runUntilStopped } from './lib/child-worker.ts';
import { MAX_WORKFLOW_OUTPUT_TOKENS, SYSTEM_PROMPT, userPrompt } from '../worker/prompt.ts';

const { target: url, queuePrefix } = readRedisConfig(process.env);
const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 50);
const schema = process.env.DATABASE_SCHEMA ?? 'public';
// The pool the real worker opens for this concurrency (worker/runtime.ts).
const sql = postgres(process.env.DATABASE_URL!, { max: Math.min(20, Math.max(4, Math.ceil(concurrency / 10))), connection: { search_path: schema }, onnotice: () => {} });
await sql`create table if not exists floor_answers (job_id text primary key, answer text not null)`;
const model = findModel('gpt-4o-mini')!;
const openai = new OpenAiLlmClient({ apiKey: process.env.OPENAI_API_KEY!, baseURL: process.env.OPENAI_BASE_URL });
const never = new AbortController().signal;

const worker = new Worker(
  PRIMARY_QUEUE,
  async (job) => {
    const r = await openai.call({ model, systemPrompt: SYSTEM_PROMPT, userPrompt: userPrompt(job.data as GenerationRequest), maxOutputTokens: MAX_WORKFLOW_OUTPUT_TOKENS, signal: never, timeoutMs: 30_000 });
    if (r.kind !== 'answer' || r.text === null) throw new Error(`no answer: ${r.kind === 'failure' ? r.message : 'empty'}`);
    await sql`insert into floor_answers (job_id, answer) values (${job.id!}, ${r.text})`;
    return { ok: true };
  },
  { connection: blockingConnection(url), prefix: queuePrefix, concurrency, maxStalledCount: 2 },
);
await runUntilStopped(worker, { concurrency, prefix: queuePrefix }, async () => {
  await sql.end();
});
