/**
 * docker-compose.yml as data: resolved by Debian's `docker-compose config` (so variable
 * interpolation is compose's own), then turned into native processes: same command, same
 * environment, with compose hostnames replaced by 127.0.0.1 and container ports by free ports.
 */
import { join } from 'node:path';
import YAML from 'yaml';
import { PROJECT_ROOT } from './processes.ts';
import { run } from './prometheus.ts';

export const COMPOSE_FILE = join(PROJECT_ROOT, 'docker-compose.yml');

export interface ComposeService {
  readonly image?: string;
  readonly build?: { context: string; target?: string };
  readonly command?: string[];
  readonly environment?: Record<string, string>;
  readonly ports?: Array<{ published?: number | string; target: number } | string>;
  readonly expose?: string[];
  readonly deploy?: { replicas?: number };
  readonly healthcheck?: { test: string[] };
  readonly depends_on?: Record<string, { condition: string }>;
  readonly volumes?: string[];
  readonly restart?: string;
  readonly stop_grace_period?: string;
}

export interface ComposeConfig {
  readonly services: Record<string, ComposeService>;
}

/** The environment docker-compose interpolates from: nothing of this machine's but PATH and HOME. */
export async function resolveCompose(vars: Record<string, string> = {}): Promise<ComposeConfig> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...vars };
  const r = await run('docker-compose', ['-f', COMPOSE_FILE, 'config'], { cwd: PROJECT_ROOT, env });
  if (r.code !== 0) throw new Error(`docker-compose config failed (${r.code}): ${r.stderr}`);
  return YAML.parse(r.stdout) as ComposeConfig;
}

/** Container ports a service listens on (expose and published targets). */
export function containerPorts(s: ComposeService): number[] {
  const out = new Set<number>();
  for (const e of s.expose ?? []) out.add(Number(e));
  for (const p of s.ports ?? []) out.add(typeof p === 'string' ? Number(p.split(':').at(-1)) : Number(p.target));
  return [...out];
}

export interface NativeMapping {
  /** Compose service → the URL a native process uses instead (stateful services: the test's own Redis, Postgres). */
  readonly replaceUrls: Record<string, string>;
  /** Compose service → container port → native port on 127.0.0.1 (for the service being started: this replica's ports). */
  readonly ports: Record<string, Record<number, number>>;
}

/** The environment of `service` as a native process gets it. */
export function nativeEnvironment(compose: ComposeConfig, service: string, mapping: NativeMapping): Record<string, string> {
  const s = compose.services[service];
  if (!s) throw new Error(`no service ${service} in docker-compose.yml`);
  const own = mapping.ports[service] ?? {};
  const env: Record<string, string> = {};
  for (const [key, raw] of Object.entries(s.environment ?? {})) {
    let value = String(raw ?? '');
    const url = /^[a-z]+:\/\/(?:[^@/]*@)?([a-z0-9_-]+)(?::\d+)?/i.exec(value);
    if (url && mapping.replaceUrls[url[1]!] !== undefined) {
      value = mapping.replaceUrls[url[1]!]!;
    } else {
      value = value.replace(/:\/\/([a-z0-9_-]+):(\d+)/gi, (whole, host: string, port: string) => {
        const native = mapping.ports[host]?.[Number(port)];
        if (compose.services[host] && native === undefined) throw new Error(`${service}.${key} points at ${host}:${port}, which has no native port`);
        return native === undefined ? whole : `://127.0.0.1:${native}`;
      });
      if (value === '0.0.0.0') value = '127.0.0.1';
      if (/^\d+$/.test(value) && own[Number(value)] !== undefined && containerPorts(s).includes(Number(value))) value = String(own[Number(value)]);
    }
    env[key] = value;
  }
  return env;
}

/** The service's command, with `node` meaning this very Node binary. */
export function nativeCommand(compose: ComposeConfig, service: string): { file: string; args: string[] } {
  const command = compose.services[service]?.command;
  if (!command || command.length === 0) throw new Error(`service ${service} has no command`);
  const [file, ...args] = command;
  return { file: file === 'node' ? process.execPath : file!, args };
}
