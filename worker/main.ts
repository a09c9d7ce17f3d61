/** `npm run worker`: one worker process. */
import { readWorkerConfig } from '../shared/config.js';
import { ConfigurationError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { startWorkerRuntime } from './runtime.js';
import { onShutdownSignals } from './shutdown.js';

let config;
try {
  config = readWorkerConfig();
} catch (err) {
  if (err instanceof ConfigurationError) {
    console.error(`worker: configuration error: ${err.message}`);
    process.exit(78);
  }
  throw err;
}
const log = createLogger({ name: 'worker', level: config.logLevel });
const runtime = await startWorkerRuntime({ config, log });
onShutdownSignals(() => runtime.close(), log);
