/** `npm run producer`: the HTTP API, admin console and queue browser in one process. */
import { createLogger } from '../shared/logger.js';
import { onShutdownSignals, readConfigOrExit } from '../shared/process-lifecycle.js';
import { readProducerConfig } from '../shared/producer-config.js';
import { startProducer } from './server.js';

const config = readConfigOrExit('producer', () => readProducerConfig());
const log = createLogger({ name: 'producer', level: config.logLevel });
const producer = await startProducer({ config, log });
onShutdownSignals(() => producer.close(), log);
