/**
 * How a service process starts and stops: configuration read once (a bad value exits 78,
 * EX_CONFIG, with a message naming it), and one shutdown path.
 */
import { ConfigurationError } from './errors.ts';
import type { Logger } from './logger.ts';

/** Reads the configuration, or exits 78 with `<service>: configuration error: …` on stderr. */
export function readConfigOrExit<T>(service: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigurationError) {
      console.error(`${service}: configuration error: ${err.message}`);
      process.exit(78);
    }
    throw err;
  }
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/** The first SIGTERM/SIGINT starts a graceful stop, a second one exits at once with 128 + the signal number. */
export function onShutdownSignals(stop: (signal: NodeJS.Signals) => Promise<void>, log: Logger): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 1));
    }
    stopping = true;
    log.info({ signal }, 'shutting down gracefully');
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
