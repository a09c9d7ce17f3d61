/** Runs project entry points as real child processes, as compose or Kubernetes would. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node <entry>` (Node strips the types): the process is node itself, so signals reach it directly. */
export function startTsProcess(entry: string, env: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, [entry], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Resolves once the process printed a line matching `pattern`; rejects if it exits first. */
export function waitForOutput(p: RunningProcess, pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no output matching ${pattern} in ${timeoutMs} ms:\n${p.output()}`)), timeoutMs);
    const check = () => {
      if (pattern.test(p.output())) {
        clearTimeout(timer);
        p.child.stdout!.off('data', check);
        p.child.stderr!.off('data', check);
        resolve();
      }
    };
    p.child.stdout!.on('data', check);
    p.child.stderr!.on('data', check);
    void p.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code ?? signal}) before printing ${pattern}:\n${p.output()}`));
    });
    check();
  });
}
