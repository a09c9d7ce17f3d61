/** Resource use of a child process, read from /proc (Linux). */
import { readFileSync } from 'node:fs';

/** Peak resident set size (VmHWM) in MB, or NaN when /proc is not readable. */
export function peakRssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Clock ticks per second (USER_HZ), the unit of the CPU times in /proc/<pid>/stat and /proc/stat. */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * User + system CPU time in ms from the text of a /proc/<pid>/stat file; with `reapedChildren`,
 * plus that of the children the process has waited for (cutime + cstime). NaN when the text
 * does not have those fields.
 */
export function statCpuMs(statText: string, reapedChildren: boolean): number {
  // The command name may contain spaces: fields are counted after its closing parenthesis.
  const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const children = reapedChildren ? Number(fields[13]) + Number(fields[14]) : 0;
  return ((utime + stime + children) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/**
 * User + system CPU time in ms, or NaN when /proc is not readable; with `reapedChildren`, plus
 * that of the children it has waited for (Postgres's postmaster: its backends that exited).
 */
export function cpuTimeMs(pid: number, reapedChildren = false): number {
  try {
    return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'), reapedChildren);
  } catch {
    return Number.NaN;
  }
}
