/** What the numbers were measured on: cores, CPU model, memory and the versions in play. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type postgres from 'postgres';

export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryMb: number;
  readonly platform: string;
  readonly kernel: string;
}

export interface Versions {
  readonly node: string;
  readonly redis: string;
  readonly postgres: string;
  readonly bullmq: string;
  readonly ioredis: string;
  readonly postgresJs: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryMb: Math.round(os.totalmem() / 2 ** 20),
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
  };
}

const require = createRequire(import.meta.url);

/** The installed version of a dependency, read from its package.json. */
function packageVersion(name: string): string {
  try {
    // Some packages do not export ./package.json: walk from the resolved entry instead.
    const entry = require.resolve(name);
    const root = entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
    return (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function versions(redis: Redis, sql: postgres.Sql): Promise<Versions> {
  const info = await redis.info('server');
  const [pg] = await sql<{ server_version: string }[]>`show server_version`;
  return {
    node: process.version,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    postgres: pg?.server_version ?? 'unknown',
    bullmq: packageVersion('bullmq'),
    ioredis: packageVersion('ioredis'),
    postgresJs: packageVersion('postgres'),
  };
}
