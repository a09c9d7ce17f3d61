/** `npm run producer`: the HTTP API, admin console and queue browser in one process. */
import { createLogger } from '../shared/logger.ts';
import { onShutdownSignals, readConfigOrExit } from '../shared/process-lifecycle.ts';
import { readProducerConfig } from '../shared/producer-config.ts';
import { startProducer } from './server.ts';

const config = readConfigOrExit('producer', () => readProducerConfig());
const log = createLogger({ name: 'producer', level: config.logLevel });
const producer = await startProducer({ config, log });
onShutdownSignals(() => producer.close(), log);
