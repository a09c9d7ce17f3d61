/**
 * A lean `fetch` for the OpenAI and Anthropic SDKs, on node:http(s) with a keep-alive Agent.
 *
 * Why: the built-in fetch (undici) builds a Request, streams the body through web streams and
 * links AbortSignals for every call; with the SDKs' own request building that was ~1 ms of CPU
 * per call in the worker. The SDKs need much less: they always pass a string URL, a Headers
 * object, a string body and an AbortSignal, and read status, ok, headers and json()/text() of
 * the Response. This fetch sends the body in one write, buffers the whole response (up to a
 * limit) and resolves with a `Response` over that buffer (buffered-response.ts: no web stream
 * unless an SDK asks for one).
 * Measured against the simulator (3000 calls, 50 in flight, client CPU only): about 0.3-0.6 ms
 * less CPU per OpenAI call and 0.2-0.3 ms per Anthropic call than the built-in fetch.
 *
 * Behaviour the SDKs and worker/llm/classify-error.ts rely on, kept as undici does it:
 *  - abort (before or during the body) rejects with `signal.reason`, by default a DOMException
 *    named 'AbortError': the SDK turns it into APIUserAbortError (caller's signal) or
 *    APIConnectionTimeoutError (its own timeout);
 *  - a network failure rejects with `TypeError('fetch failed', { cause })`: APIConnectionError,
 *    or APIConnectionTimeoutError when the cause says "timed out" (ETIMEDOUT);
 *  - an error status is a normal Response: the SDK raises RateLimitError etc. with its headers.
 * Differences, on purpose:
 *  - the promise resolves only once the whole body is in, so an abort or a broken connection
 *    mid-body rejects fetch itself (the SDK then reports a connection error or an abort)
 *    instead of failing later in response.json();
 *  - a body over `maxResponseBytes` aborts the request and rejects (APIConnectionError);
 *  - redirects are never followed (the adapters ask for redirect: 'error'; a 3xx is returned
 *    as is, and the SDK reports it as an APIError with that status);
 *  - no Accept-Encoding is added; a compressed answer (gzip, deflate, br) is still decoded.
 * Inputs it does not handle (a Request object, a streaming or form body) go to globalThis.fetch.
 */
import type { NonSharedBuffer } from 'node:buffer';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { readFileSync } from 'node:fs';
import { brotliDecompressSync, gunzipSync, inflateSync, type ZlibOptions } from 'node:zlib';
import { BufferedResponse } from './buffered-response.ts';

/** The `fetch` signature both SDKs accept (their `Fetch` type). */
export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface NodeHttpFetchOptions {
  /** Sockets per origin; size it to the calls in flight (default 64). Extra requests queue. */
  readonly maxSockets?: number;
  /** Larger bodies abort the call (default 16 MiB, after decoding when compressed). */
  readonly maxResponseBytes?: number;
  /**
   * Bytes of response bodies all calls together may hold while they arrive (default 64 MiB):
   * past it, responses wait, read no further, until others are done (see ResponseBudget).
   */
  readonly maxBufferedBytes?: number;
  /**
   * PEM certificates trusted for https on top of Node's bundle and the file NODE_EXTRA_CA_CERTS
   * names: a private gateway's CA, or a test's own.
   */
  readonly extraCaCertificates?: readonly string[];
  /** Idle keep-alive sockets are closed after this (default 4000 ms, as undici; a shorter server Keep-Alive hint wins). */
  readonly idleSocketTimeoutMs?: number;
}

export interface NodeHttpFetch extends FetchFn {
  /** Destroys every socket, in use or idle: requests still in flight fail. Call it after the calls have ended. */
  close(): void;
  /** The response budget: see ResponseBudget.stats. */
  buffered(): ResponseBudgetStats;
}

export interface ResponseBudgetStats {
  /** The budget (maxBufferedBytes). */
  readonly limitBytes: number;
  /** Response bytes held now, and the most ever held at once. */
  readonly bytes: number;
  readonly peakBytes: number;
  /** Responses waiting for room now, and how many times one had to wait (an answer may wait more than once). */
  readonly waiting: number;
  readonly waitedTotal: number;
}

/** What ResponseBudget needs of a response: IncomingMessage's flow control. */
interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

export interface BudgetHolder {
  /** Counts `n` more bytes held by this response; pauses it when the budget is spent. */
  add(n: number): void;
  /** The response is done (handed over, failed or aborted): its bytes no longer count. */
  release(): void;
}

/** The most a socket read hands a response at once (a stream's highWaterMark for sockets). */
const CHUNK_BYTES = 64 * 1024;

/**
 * Bounds the bytes of response bodies held at once by all calls of a process, whatever the
 * concurrency: the per-response limit alone allows concurrency × 16 MiB (a storm of 10 MB
 * answers at 50 calls in flight took a worker to 560 MB), outside V8's heap cap.
 *
 * A response that finds the budget spent pauses (TCP flow control holds the rest at the
 * vendor) and is resumed, in arrival order, as others finish. One response, the leader, may
 * always read on: so the responses paused with part of their bodies cannot wait for each other
 * for ever. Paused calls still end at their attempt timeout. Room that frees up resumes as
 * many answers as it holds a chunk (64 KiB) for each, counting the chunks promised to answers
 * resumed but not yet read from. What is held at once stays under the budget plus one response
 * (the leader's, up to maxResponseBytes) plus about a chunk. Answers of a well-behaved vendor
 * (a workflow is a few KB) never come near it.
 */
export class ResponseBudget {
  private held = 0;
  private peak = 0;
  private waited = 0;
  /** A chunk for each answer resumed that has not read since: room already given away. */
  private promised = 0;
  private leader: BudgetHolder | null = null;
  private readonly waiting: { holder: BudgetHolder; res: Pausable; settle(): void; promise(): void }[] = [];

  readonly limitBytes: number;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  stats(): ResponseBudgetStats {
    return { limitBytes: this.limitBytes, bytes: this.held, peakBytes: this.peak, waiting: this.waiting.length, waitedTotal: this.waited };
  }

  open(res: Pausable): BudgetHolder {
    let bytes = 0;
    let released = false;
    let promisedChunk = false;
    const settle = (): void => {
      if (!promisedChunk) return;
      promisedChunk = false;
      this.promised -= CHUNK_BYTES;
    };
    const promise = (): void => {
      promisedChunk = true;
      this.promised += CHUNK_BYTES;
    };
    const holder: BudgetHolder = {
      add: (n) => {
        if (released) return;
        settle();
        bytes += n;
        this.held += n;
        if (this.held > this.peak) this.peak = this.held;
        if (this.held <= this.limitBytes) {
          // Room left after all (answers read less than a chunk each): let more go on.
          if (this.waiting.length > 0) this.resumeWaiting();
          return;
        }
        if (this.leader === holder) return;
        if (this.leader === null) {
          this.leader = holder;
          return;
        }
        res.pause();
        this.waited++;
        this.waiting.push({ holder, res, settle, promise });
      },
      release: () => {
        if (released) return;
        released = true;
        settle();
        this.held -= bytes;
        bytes = 0;
        const at = this.waiting.findIndex((w) => w.holder === holder);
        if (at >= 0) this.waiting.splice(at, 1);
        if (this.leader === holder) this.leader = null;
        this.resumeWaiting();
      },
    };
    return holder;
  }

  /**
   * Resumes as many waiting answers as the room left takes a chunk each (so a thousand of them
   * do not each read a chunk past the budget at once), and, with no leader, the next as leader.
   */
  private resumeWaiting(): void {
    while (this.waiting.length > 0) {
      const room = this.limitBytes - this.held - this.promised;
      if (room <= 0 && this.leader !== null) return;
      const next = this.waiting.shift()!;
      if (room <= 0) this.leader = next.holder;
      next.promise();
      next.res.resume();
    }
  }
}

/** Statuses whose Response must have a null body (the Response constructor throws otherwise). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super(`response body larger than ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }
}

export function createNodeHttpFetch(options: NodeHttpFetchOptions = {}): NodeHttpFetch {
  // Node loads undici, behind the global Headers, on first use: the SDKs build Headers for every
  // request, so without this the first calls (a thousand of them when a backlog is waiting)
  // would wait for ~60 ms of compiling. Done here, it happens while the worker starts.
  void new Headers();
  const maxSockets = options.maxSockets ?? 64;
  const maxBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
  const budget = new ResponseBudget(options.maxBufferedBytes ?? 64 * 1024 * 1024);
  const agentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: options.idleSocketTimeoutMs ?? 4000, scheduling: 'lifo' as const };
  const httpAgent = new HttpAgent(agentOptions);
  // `ca` replaces the whole trust store, so it is rebuilt: Node's bundle, NODE_EXTRA_CA_CERTS, then ours.
  const httpsAgent = new HttpsAgent(options.extraCaCertificates?.length ? { ...agentOptions, ca: [...rootCertificates, ...extraCaFromEnvironment(), ...options.extraCaCertificates] } : agentOptions);

  const fetchFn = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const body = init?.body;
    if (typeof input !== 'string' && !(input instanceof URL)) return globalThis.fetch(input, init);
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) return globalThis.fetch(input, init);

    const url = typeof input === 'string' ? new URL(input) : input;
    const signal = init?.signal ?? null;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return globalThis.fetch(input, init);

    const method = (init?.method ?? 'GET').toUpperCase();
    const headers = toNodeHeaders(init?.headers);
    if (body !== undefined && body !== null) headers['content-length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;

    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      let held: BudgetHolder | undefined;
      const finish = (error: unknown, response?: Response): void => {
        if (settled) return;
        settled = true;
        held?.release();
        signal?.removeEventListener('abort', onAbort);
        if (response) resolve(response);
        else reject(error);
      };
      const req = (secure ? httpsRequest : httpRequest)({
        protocol: url.protocol,
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers,
        agent: secure ? httpsAgent : httpAgent,
      });
      const onAbort = (): void => {
        finish(abortReason(signal!));
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // `on`, not `once`: a second 'error' with no listener would crash the process.
      req.on('error', (err) => finish(new TypeError('fetch failed', { cause: err })));
      req.once('response', (res: IncomingMessage) => {
        const chunks: NonSharedBuffer[] = [];
        let size = 0;
        if (settled) return res.resume(); // aborted meanwhile: the body is not wanted
        const holder = (held = budget.open(res));
        res.on('data', (chunk: NonSharedBuffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            finish(new TypeError('fetch failed', { cause: new ResponseTooLargeError(maxBytes) }));
            req.destroy();
          } else if (!settled) {
            chunks.push(chunk);
            holder.add(chunk.length);
          }
        });
        res.once('error', (err) => finish(new TypeError('fetch failed', { cause: err })));
        res.once('close', () => {
          if (!res.complete) finish(new TypeError('fetch failed', { cause: new Error('connection closed before the response body ended') }));
        });
        res.once('end', () => {
          if (settled) return;
          try {
            const status = res.statusCode ?? 0;
            const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
            const payload = method === 'HEAD' || NULL_BODY_STATUS.has(status) ? null : decode(raw, res.headers['content-encoding'], maxBytes);
            // `url`: the SDKs only log it; undici sets it to the request URL.
            finish(null, new BufferedResponse(payload, { status, statusText: res.statusMessage ?? '', headers: toHeaders(res.rawHeaders), url: url.href }));
          } catch (err) {
            finish(new TypeError('fetch failed', { cause: err }));
          }
        });
      });
      if (body === undefined || body === null) req.end();
      else req.end(body);
    });
  };

  return Object.assign(fetchFn, {
    close(): void {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
    buffered: () => budget.stats(),
  });
}

/** The certificates of the file NODE_EXTRA_CA_CERTS names (Node reads it only for its default store). */
function extraCaFromEnvironment(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [readFileSync(file, 'utf8')];
  } catch {
    return []; // Node itself only warns about an unreadable file.
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function toNodeHeaders(init: HeadersInit | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (!init) return out;
  if (init instanceof Headers) {
    init.forEach((value, name) => {
      out[name] = value;
    });
  } else if (Array.isArray(init)) {
    for (const [name, value] of init) if (name !== undefined && value !== undefined) out[name.toLowerCase()] = value;
  } else {
    for (const [name, value] of Object.entries(init)) out[name.toLowerCase()] = value;
  }
  return out;
}

function toHeaders(raw: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

function decode(raw: NonSharedBuffer, encoding: string | undefined, maxBytes: number): NonSharedBuffer {
  if (!encoding || encoding === 'identity') return raw;
  const opts: ZlibOptions = { maxOutputLength: maxBytes };
  try {
    switch (encoding.trim().toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(raw, opts);
      case 'deflate':
        return inflateSync(raw, opts);
      case 'br':
        return brotliDecompressSync(raw, opts);
      default:
        throw new Error(`unsupported content-encoding ${encoding}`);
    }
  } catch (err) {
    if (err instanceof RangeError) throw new ResponseTooLargeError(maxBytes);
    throw err;
  }
}
