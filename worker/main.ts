/** `npm run worker`: one worker process. */
import { readWorkerConfig } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { onShutdownSignals, readConfigOrExit } from '../shared/process-lifecycle.ts';
import { startWorkerRuntime } from './runtime.ts';

const config = readConfigOrExit('worker', () => readWorkerConfig());
const log = createLogger({ name: 'worker', level: config.logLevel });
const runtime = await startWorkerRuntime({ config, log });
onShutdownSignals(() => runtime.close(), log);
