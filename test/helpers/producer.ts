/**
 * Producer services for tests: started in-process on a free port with a harness's Redis prefix
 * and Postgres schema, plus small HTTP helpers (JSON requests, server-sent events, schema checks).
 */
import { createServer } from 'node:net';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { readProducerConfig, UNNAMED_ADMIN } from '../../shared/producer-config.ts';
import { type RunningProducer, startProducer } from '../../producer/server.ts';
import { generationResultSchema, workflowSchema } from '../../producer/schemas.ts';
import { errorBodySchema } from '../../producer/errors.ts';

export const API_TOKEN = 'test-api-token-0123456789abcdef';
export const API_TOKEN_2 = 'test-api-token-second-fedcba9876';
export const ADMIN_TOKEN = 'test-admin-token-abcdef0123456789';
/** The audit identity of ADMIN_TOKEN (ADMIN_API_TOKEN, the one unnamed admin): `admin`. */
export const ADMIN_IDENTITY = UNNAMED_ADMIN;

export const apiAuth = { authorization: `Bearer ${API_TOKEN}` };
export const adminAuth = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Starts producers for one test file; `closeAll` stops every one of them. */
export function producerPool(baseEnv: Record<string, string>) {
  const running: RunningProducer[] = [];
  return {
    async start(overrides: Record<string, string> = {}, options: { processMetrics?: boolean; log?: Logger } = {}): Promise<RunningProducer> {
      const config = readProducerConfig({
        ...baseEnv,
        PORT: '0',
        HOST: '127.0.0.1',
        PRODUCER_API_TOKENS: `${API_TOKEN},${API_TOKEN_2}`,
        ADMIN_API_TOKEN: ADMIN_TOKEN,
        DEPENDENCY_TIMEOUT_MS: '1500',
        SHUTDOWN_GRACE_MS: '2000',
        ...overrides,
      });
      const p = await startProducer({ config, log: options.log ?? createLogger({ name: 'producer', level: config.logLevel }), processMetrics: options.processMetrics ?? false });
      running.push(p);
      return p;
    },
    async closeAll(): Promise<void> {
      await Promise.all(running.splice(0).map((p) => p.close()));
    },
  };
}

/** A TCP port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface JsonResponse<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

/** fetch with a JSON body (unless `raw` is given) and the answer parsed when it is JSON. */
export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; json?: unknown; raw?: string | Blob; redirect?: RequestRedirect } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Blob | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  } else if (options.raw !== undefined) {
    body = options.raw;
  }
  const res = await fetch(`${base}${path}`, { method, headers, body, redirect: options.redirect ?? 'manual' });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export interface SseEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: any;
}

export interface SseStream {
  readonly status: number;
  readonly headers: Headers;
  /** Events and comment lines in arrival order. */
  readonly events: SseEvent[];
  readonly comments: string[];
  /** Resolves when the event matches, or rejects at the deadline. */
  waitFor(predicate: (e: SseEvent) => boolean, timeoutMs?: number, what?: string): Promise<SseEvent>;
  waitForComment(predicate: (c: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens an event stream and parses it as it arrives. */
export async function openEvents(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  let done = false;
  const ended = (async () => {
    if (!res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let idx;
        while ((idx = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, idx);
          buffer = buffer.slice(idx + 2);
          let event = 'message';
          let id: string | undefined;
          const data: string[] = [];
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event:')) ((event = line.slice(6).trim()), (isEvent = true));
            else if (line.startsWith('id:')) id = line.slice(3).trim();
            else if (line.startsWith('data:')) ((data.push(line.slice(5).trim())), (isEvent = true));
          }
          if (isEvent) events.push({ event, id, data: data.length ? JSON.parse(data.join('\n')) : null });
          wake();
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    } finally {
      done = true;
      wake();
    }
  })();
  const waitUntil = <T>(find: () => T | undefined, timeoutMs: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const hit = find();
        if (hit !== undefined) return finish(() => resolve(hit));
        if (done) return finish(() => reject(new Error(`stream ended before ${what}; events: ${events.map((e) => e.event).join(', ')}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${what}; events: ${events.map((e) => e.event).join(', ')}`))), timeoutMs);
      const finish = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });
  return {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    ended: ended.catch(() => {}),
    waitFor: (predicate, timeoutMs = 15_000, what = 'event') => waitUntil(() => events.find(predicate), timeoutMs, what),
    waitForComment: (predicate, timeoutMs = 5_000) => waitUntil(() => comments.find(predicate), timeoutMs, 'comment'),
    close: () => controller.abort(),
  };
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** Checks API responses against the schemas the OpenAPI document publishes. */
export function schemaChecker() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addSchema(workflowSchema);
  ajv.addSchema(generationResultSchema);
  return (schema: object, data: unknown): string[] => {
    const validate = ajv.compile(schema);
    return validate(data) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
}

let sharedChecker: ReturnType<typeof schemaChecker> | undefined;

/** Problems of a body against the one error shape; empty when it conforms. */
export function errorShapeProblems(body: unknown): string[] {
  sharedChecker ??= schemaChecker();
  return sharedChecker(errorBodySchema, body);
}
