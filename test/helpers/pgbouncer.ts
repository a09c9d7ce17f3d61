/**
 * A PgBouncer of the test's own (Debian's package), on a free port, in front of the machine's
 * Postgres. Run as the postgres user when the tests run as root: PgBouncer refuses to run as root.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:net';
import { freePort } from './ports.ts';

export interface OwnPgBouncer {
  readonly port: number;
  /** The log so far, for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** `session` or `transaction`. */
  readonly poolMode: 'session' | 'transaction';
  /** Roles that may connect (auth_type trust: no passwords, as the machine's Postgres). */
  readonly users: readonly string[];
  readonly ignoreStartupParameters?: readonly string[];
}

export async function startPgBouncer(upstream: URL, options: PgBouncerOptions): Promise<OwnPgBouncer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'wo-pgbouncer-'));
  chmodSync(dir, 0o777);
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, 0o644);
    return p;
  };
  const database = upstream.pathname.slice(1);
  const ini = file(
    'pgbouncer.ini',
    [
      '[databases]',
      `${database} = host=${upstream.hostname} port=${upstream.port || 5432} dbname=${database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${file('users.txt', options.users.map((u) => `"${u}" ""`).join('\n') + '\n')}`,
      `pool_mode = ${options.poolMode}`,
      ...(options.ignoreStartupParameters?.length ? [`ignore_startup_parameters = ${options.ignoreStartupParameters.join(',')}`] : []),
      'default_pool_size = 20',
      'max_client_conn = 200',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', ini] : [ini];
  const child: ChildProcess = spawn('pgbouncer', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const log = () => {
    let text = output;
    try {
      text += readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8');
    } catch {
      // Not written yet.
    }
    return text;
  };
  const deadline = Date.now() + 10_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pgbouncer did not start on ${port}:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
