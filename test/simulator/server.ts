/**
 * A simulated model provider: OpenAI Chat Completions and Anthropic Messages on one port,
 * close enough to the real wire protocols that the official SDKs work through their base URL.
 * Answers are generated workflows; faults are injected by seeded probability, by a rate limit,
 * or by a `[sim:model=fault]` directive in the goal.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { ModelSpec } from '../../shared/models.ts';
import { anthropicVendor } from './anthropic.ts';
import { capAnswer, composeAnswer, type Answer } from './answers.ts';
import { isReasoningModel, isRetired, resolveModel } from './catalog.ts';
import {
  DEFAULT_RETRY_AFTER_SECONDS,
  DEFAULT_SLOW_MS,
  faultsFor,
  forcedOutcome,
  isOutputFault,
  parseDirectives,
  parseRepairDirectives,
  DEFAULT_REPAIR_SUCCESS_RATE,
  parseFaultConfig,
  pickFault,
  type Directive,
  type FaultConfig,
  type Outcome,
} from './faults.ts';
import { latencyFor, parseLatencyConfig, type LatencyConfig } from './latency.ts';
import { openAiVendor } from './openai.ts';
import { fieldValue, parseGenerationPrompt } from './prompt.ts';
import { hashSeed, mulberry32 } from './random.ts';
import { RateLimiter } from './rate-limit.ts';
import { StatsRecorder, type SimulatorStats } from './stats.ts';
import { PromptCache } from './tokens.ts';
import { isRecord, type ErrorKind, type Vendor } from './vendor.ts';

export type { FaultConfig, FaultKind, Outcome } from './faults.ts';
export type { LatencyConfig } from './latency.ts';
export type { SimulatorStats } from './stats.ts';
export type { Answer } from './answers.ts';

/** A model call as the simulator received it: for tests of what the orchestrator sends. */
export interface ReceivedCall {
  /** Catalog id. */
  readonly model: string;
  readonly systemText: string | null;
  readonly userText: string;
}

const MAX_RECEIVED = 1_000;

export interface SimulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  seed?: number;
  faults?: FaultConfig;
  /** Base latency in ms for every model, or per model (catalog id, apiModel or '*'); ±10% jitter. */
  latencyMs?: LatencyConfig;
}

export interface Simulator {
  /** http://HOST:PORT; OpenAI clients take `${url}/v1` as base URL, Anthropic clients `url`. */
  readonly url: string;
  readonly port: number;
  setFaults(faults: FaultConfig): void;
  setLatency(latency: LatencyConfig): void;
  stats(): SimulatorStats;
  resetStats(): void;
  /**
   * Queues raw answers for a model (catalog id): its next calls return them in order, as the
   * model's content (OpenAI) or text (Anthropic; a `json` answer goes to the tool), whatever
   * the faults say. For corpora of bad outputs.
   */
  setScript(modelId: string, answers: readonly Answer[]): void;
  /** The last calls received (up to 1,000), oldest first, as the model read them; cleared by resetStats. */
  received(): readonly ReceivedCall[];
  /** Stops listening and drops every connection, hanging ones included. */
  close(): Promise<void>;
}

export const DEFAULT_SEED = 1;
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const VENDORS: readonly Vendor[] = [openAiVendor, anthropicVendor];

type Decision = { readonly outcome: Outcome; readonly retryAfterMs?: number };

class Provider {
  private faults: FaultConfig;
  private latency: LatencyConfig;
  /** Separate streams, so latency jitter never shifts which requests get faults. */
  private readonly faultRng: () => number;
  private readonly jitterRng: () => number;
  private readonly limiter = new RateLimiter();
  private readonly cache = new PromptCache();
  readonly stats = new StatsRecorder();
  /** One per request in flight; aborted when its client goes away or the server closes. */
  private readonly inFlight = new Set<AbortController>();
  private readonly scripts = new Map<string, Answer[]>();
  readonly received: ReceivedCall[] = [];

  private readonly seed: number;

  constructor(seed: number, faults: FaultConfig, latency: LatencyConfig) {
    this.seed = seed;
    this.faults = parseFaultConfig(faults);
    this.latency = parseLatencyConfig(latency);
    this.faultRng = mulberry32(hashSeed(seed, 'faults'));
    this.jitterRng = mulberry32(hashSeed(seed, 'latency'));
  }

  setFaults(faults: unknown): void {
    this.faults = parseFaultConfig(faults);
  }

  setScript(modelId: string, answers: readonly Answer[]): void {
    this.scripts.set(modelId, [...answers]);
  }

  setLatency(latency: unknown): void {
    this.latency = parseLatencyConfig(latency);
  }

  abortAll(): void {
    for (const controller of this.inFlight) controller.abort();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    // Only a response cut short is an abort; aborting after every answer cost a DOMException each.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    try {
      await this.route(req, res, controller.signal);
    } catch (err) {
      if (!controller.signal.aborted) sendJson(res, err instanceof HttpError ? err.status : 500, { error: err instanceof Error ? err.message : String(err) });
    } finally {
      this.inFlight.delete(controller);
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';
    const vendor = VENDORS.find((v) => v.path === path);
    if (vendor) {
      if (method !== 'POST') return sendJson(res, 405, { error: `${method} is not allowed on ${path}` });
      return this.modelCall(vendor, req, res, signal);
    }
    const admin: Record<string, () => Promise<unknown> | unknown> = {
      'GET /healthz': () => ({ status: 'ok' }),
      'GET /_sim/stats': () => this.stats.snapshot(),
      'POST /_sim/reset': () => {
        this.stats.reset();
        return this.stats.snapshot();
      },
      'GET /_sim/faults': () => this.faults,
      'PUT /_sim/faults': async () => {
        const faults = await readJson(req);
        asBadRequest(() => this.setFaults(faults));
        return this.faults;
      },
      'GET /_sim/latency': () => ({ latencyMs: this.latency }),
      'PUT /_sim/latency': async () => {
        const latency = await readJson(req);
        asBadRequest(() => this.setLatency(isRecord(latency) && 'latencyMs' in latency ? latency.latencyMs : latency));
        return { latencyMs: this.latency };
      },
    };
    const action = admin[`${method} ${path}`];
    if (action) return sendJson(res, 200, await action());
    const known = Object.keys(admin).some((k) => k.endsWith(` ${path}`));
    sendJson(res, known ? 405 : 404, { error: known ? `${method} is not allowed on ${path}` : `no route for ${path}` });
  }

  private async modelCall(vendor: Vendor, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const requestId = vendor.newRequestId();
    const fail = (kind: ErrorKind, message: string, headers: Record<string, string> = {}): void => {
      const { status, body } = vendor.error(kind, message);
      sendJson(res, status, body, { [vendor.requestIdHeader]: requestId, ...headers });
    };

    const raw = await readBody(req);
    this.stats.request();
    if (!vendor.hasApiKey(req.headers)) {
      this.stats.reject('unauthenticated');
      return fail('auth', vendor.provider === 'openai' ? 'You didn\'t provide an API key. Use "Authorization: Bearer YOUR_KEY".' : 'x-api-key header is required');
    }
    const body = parseJson(raw);
    const call = isRecord(body) ? vendor.parse(body) : 'the request body must be a JSON object';
    if (typeof call === 'string') {
      this.stats.reject('invalid_request');
      return fail('invalid_request', call);
    }
    const model = resolveModel(call.model, vendor.provider);
    if (!model || isRetired(model)) {
      this.stats.reject('unknown_model');
      return fail('not_found', notFoundMessage(vendor, String(call.model)));
    }
    if (call.hasTemperature && isReasoningModel(model)) {
      this.stats.reject('invalid_request');
      return fail(
        'invalid_request',
        vendor.provider === 'openai'
          ? "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported."
          : `temperature: temperature is not supported by ${model.apiModel}; remove it (adaptive thinking sets sampling)`,
      );
    }
    this.received.push({ model: model.id, systemText: call.cacheablePrefix, userText: call.userText });
    if (this.received.length > MAX_RECEIVED) this.received.shift();
    const prompt = parseGenerationPrompt(call.userText);
    let directives: Directive[];
    let repairDirectives: Directive[];
    try {
      directives = parseDirectives(prompt.goal);
      repairDirectives = parseRepairDirectives(prompt.goal);
    } catch (err) {
      this.stats.reject('invalid_request');
      return fail('invalid_request', (err as Error).message);
    }
    const repair = fieldValue(call.userText, 'previous_answer').found;

    const scripted = this.scripts.get(model.id)?.shift();
    const decision: Decision = scripted ? { outcome: 'scripted' } : repair ? this.decideRepair(model, directives, repairDirectives) : this.decide(model, directives);
    if (repair && !scripted && (decision.outcome === 'ok' || isOutputFault(decision.outcome))) this.stats.repair(model.id, decision.outcome === 'ok');
    const tuning = faultsFor(this.faults, model);
    let answer: Answer | null = null;
    let outcome = decision.outcome;
    if (scripted) {
      answer = scripted;
    } else if (outcome === 'huge') {
      // 10 MB of JSON: parses, but no workflow has a description that long.
      answer = { kind: 'json', value: { name: 'Huge', description: 'x'.repeat(10 * 1024 * 1024), pilot_steps: [] } };
    } else if (outcome === 'ok' || outcome === 'slow' || isOutputFault(outcome)) {
      answer = composeAnswer(outcome === 'slow' ? 'ok' : outcome, { seed: this.seed, goal: prompt.goal, plugins: prompt.plugins });
      const capped = capAnswer(answer, vendor.maxAnswerChars(call));
      if (capped !== answer && outcome !== 'slow') outcome = 'truncated';
      answer = capped;
    }
    this.stats.outcome(model.id, outcome);

    if (!(await wait(latencyFor(this.latency, model, this.jitterRng), signal))) return;
    switch (decision.outcome) {
      case 'rate_limit': {
        const ms = Math.max(1, Math.round(decision.retryAfterMs ?? (tuning.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS) * 1000));
        return fail('rate_limit', `Rate limit reached for ${model.apiModel}. Please try again in ${ms}ms.`, {
          'retry-after': String(Math.ceil(ms / 1000)),
          'retry-after-ms': String(ms),
        });
      }
      case 'server_error':
        return fail('server_error', 'The server had an error while processing your request. Sorry about that!');
      case 'overloaded':
        return fail('overloaded', 'Overloaded');
      case 'auth':
        return fail('auth', vendor.provider === 'openai' ? 'Incorrect API key provided.' : 'invalid x-api-key');
      case 'quota':
        return fail(
          'quota',
          vendor.provider === 'openai'
            ? 'You exceeded your current quota, please check your plan and billing details.'
            : 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
        );
      case 'model_unavailable':
        return fail('not_found', notFoundMessage(vendor, model.apiModel));
      case 'bad_request':
        return fail('invalid_request', vendor.provider === 'openai' ? "Invalid 'messages[1].content': string too long." : 'messages.0.content: prompt is too long');
      case 'hang':
        await wait(Number.POSITIVE_INFINITY, signal);
        return;
      case 'endless':
        // Headers at once, then a body that trickles forever: only a client timeout ends it.
        res.writeHead(200, { 'content-type': 'application/json', [vendor.requestIdHeader]: requestId });
        res.write('{"id": "endless", "choices": [');
        while (await wait(100, signal)) res.write(' ');
        return;
      case 'slow':
        if (!(await wait(tuning.slowMs ?? DEFAULT_SLOW_MS, signal))) return;
        break;
    }
    if (!answer) return;
    const cacheHit = call.cacheablePrefix !== null && this.cache.hit(model.apiModel, call.cacheablePrefix);
    const { body: reply, usage } = vendor.render(answer, call, { model, requestChars: raw.length, cacheHit });
    this.stats.usage(model.id, usage);
    sendJson(res, 200, reply, { [vendor.requestIdHeader]: requestId });
  }

  /**
   * A repair call: call faults come at their rates (a forced first-call directive does not apply);
   * an answer is valid with the model's repair success rate, else a `schema` fault again, unless
   * a `[sim-repair:…]` directive says what it answers. Two draws whatever happens.
   */
  private decideRepair(model: ModelSpec, directives: readonly Directive[], repairDirectives: readonly Directive[]): Decision {
    const first = this.decide(model, directives.filter((d) => d.outcome !== 'ok' && !isOutputFault(d.outcome)));
    const draw = this.faultRng();
    if (first.outcome !== 'ok' && !isOutputFault(first.outcome)) return first;
    const forced = forcedOutcome(repairDirectives, model);
    if (forced) return { outcome: forced };
    const rate = faultsFor(this.faults, model).repairSuccessRate ?? DEFAULT_REPAIR_SUCCESS_RATE;
    return { outcome: draw < rate ? 'ok' : 'schema' };
  }

  /** One draw per call whatever happens, so the fault sequence depends only on call order. */
  private decide(model: ModelSpec, directives: readonly Directive[]): Decision {
    const draw = this.faultRng();
    const forced = forcedOutcome(directives, model);
    if (forced) return { outcome: forced };
    const faults = faultsFor(this.faults, model);
    if (faults.rateLimitPerSecond !== undefined) {
      const admission = this.limiter.take(model.id, faults.rateLimitPerSecond);
      if (!admission.ok) return { outcome: 'rate_limit', retryAfterMs: admission.retryAfterMs };
    }
    return { outcome: pickFault(faults, draw) ?? 'ok' };
  }
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const provider = new Provider(options.seed ?? DEFAULT_SEED, options.faults ?? {}, options.latencyMs ?? 0);
  const server = createServer((req, res) => void provider.handle(req, res));
  const host = options.host ?? '127.0.0.1';
  await listen(server, options.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    setFaults: (faults) => provider.setFaults(faults),
    setLatency: (latency) => provider.setLatency(latency),
    stats: () => provider.stats.snapshot(),
    setScript: (modelId, answers) => provider.setScript(modelId, answers),
    resetStats: () => {
      provider.stats.reset();
      provider.received.length = 0;
    },
    received: () => [...provider.received],
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        provider.abortAll();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The vendor's own words for a model it does not serve (unknown or retired). */
function notFoundMessage(vendor: Vendor, name: string): string {
  return vendor.provider === 'openai' ? `The model \`${name}\` does not exist or you do not have access to it.` : `model: ${name}`;
}

class HttpError extends Error {
  readonly status: number;

  constructor(
    status: number,
    message: string,
  ) {
    super(message);
    this.status = status;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function asBadRequest(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    throw new HttpError(400, err instanceof Error ? err.message : String(err));
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = parseJson(await readBody(req));
  if (body === undefined) throw new HttpError(400, 'the request body must be JSON');
  return body;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Resolves true after `ms`, or false as soon as the request is aborted. */
async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  if (!Number.isFinite(ms)) {
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    return false;
  }
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
