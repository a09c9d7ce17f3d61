/** `npm run producer`: the HTTP API, admin console and queue browser in one process. */
import { ConfigurationError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { readProducerConfig } from '../shared/producer-config.js';
import { onShutdownSignals } from '../worker/shutdown.js';
import { startProducer } from './server.js';

let config;
try {
  config = readProducerConfig();
} catch (err) {
  if (err instanceof ConfigurationError) {
    console.error(`producer: configuration error: ${err.message}`);
    process.exit(78);
  }
  throw err;
}
const log = createLogger({ name: 'producer', level: config.logLevel });
const producer = await startProducer({ config, log });
onShutdownSignals(() => producer.close(), log);
