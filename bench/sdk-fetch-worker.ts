/**
 * The worker as worker/main.ts starts it, except that the OpenAI and Anthropic SDKs use their
 * own default HTTP path (the built-in fetch) instead of worker/llm/node-http-fetch.ts: the
 * runtime builds that fetch only when it builds the clients itself, so the clients are built
 * here without one. For the http-ab scenario (bench/scenarios/http-ab.ts).
 */
import { readWorkerConfig } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { onShutdownSignals, readConfigOrExit } from '../shared/process-lifecycle.ts';
import { createModelClients } from '../worker/model-clients.ts';
import { startWorkerRuntime } from '../worker/runtime.ts';

const config = readConfigOrExit('worker', () => readWorkerConfig());
const log = createLogger({ name: 'worker', level: config.logLevel });
const runtime = await startWorkerRuntime({ config, log, clients: createModelClients(config.providers, config.providers.env) });
onShutdownSignals(() => runtime.close(), log);
