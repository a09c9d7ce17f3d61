/**
 * `npm run sim`: the simulated model provider as a standalone process.
 *
 *   SIM_PORT        port to listen on (default 8787; 0 picks a free one)
 *   SIM_HOST        interface to bind (default 127.0.0.1)
 *   SIM_SEED        integer seed for faults, jitter and workflows (default 1)
 *   SIM_FAULTS      JSON FaultConfig, e.g. {"gpt-4o-mini":{"schema":0.03},"*":{"server_error":0.01}}
 *   SIM_LATENCY_MS  base latency in ms, or a JSON map model -> ms
 */
import { parseFaultConfig, type FaultConfig } from './faults.ts';
import { parseLatencyConfig, type LatencyConfig } from './latency.ts';
import { DEFAULT_SEED, startSimulator, type SimulatorOptions } from './server.ts';

class EnvError extends Error {}

function fromEnv(env: NodeJS.ProcessEnv): SimulatorOptions {
  return {
    port: envValue(env, 'SIM_PORT', 8787, (raw) => {
      const port = Number(raw);
      if (!/^\d+$/.test(raw) || port > 65535) throw new Error('must be an integer between 0 and 65535');
      return port;
    }),
    host: envValue(env, 'SIM_HOST', '127.0.0.1', (raw) => raw),
    seed: envValue(env, 'SIM_SEED', DEFAULT_SEED, (raw) => {
      const seed = Number(raw);
      if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(seed)) throw new Error('must be an integer');
      return seed;
    }),
    faults: envValue<FaultConfig>(env, 'SIM_FAULTS', {}, (raw) => parseFaultConfig(parseJson(raw))),
    latencyMs: envValue<LatencyConfig>(env, 'SIM_LATENCY_MS', 0, (raw) => parseLatencyConfig(parseJson(raw))),
  };
}

function envValue<T>(env: NodeJS.ProcessEnv, name: string, fallback: T, parse: (raw: string) => T): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  try {
    return parse(raw);
  } catch (err) {
    throw new EnvError(`${name}: ${err instanceof Error ? err.message : String(err)} (got ${JSON.stringify(raw)})`);
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new Error('is not valid JSON');
  }
}

async function main(): Promise<void> {
  let options: SimulatorOptions;
  try {
    options = fromEnv(process.env);
  } catch (err) {
    if (!(err instanceof EnvError)) throw err;
    console.error(`simulator: invalid environment: ${err.message}`);
    process.exit(2);
  }
  const sim = await startSimulator(options);
  console.log(`simulator listening on ${sim.url} (seed ${options.seed}); OpenAI base URL ${sim.url}/v1, Anthropic base URL ${sim.url}`);
  const shutdown = (signal: NodeJS.Signals): void => {
    console.log(`simulator: ${signal}, closing`);
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  console.error('simulator: failed to start:', err);
  process.exit(1);
});
