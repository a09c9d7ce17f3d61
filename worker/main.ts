/** `npm run worker`: one worker process. */
import { readWorkerConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { onShutdownSignals, readConfigOrExit } from '../shared/process-lifecycle.js';
import { startWorkerRuntime } from './runtime.js';

const config = readConfigOrExit('worker', () => readWorkerConfig());
const log = createLogger({ name: 'worker', level: config.logLevel });
const runtime = await startWorkerRuntime({ config, log });
onShutdownSignals(() => runtime.close(), log);
