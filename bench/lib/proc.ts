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

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * User + system CPU time in ms, or NaN when /proc is not readable; with `reapedChildren`, plus
 * that of the children it has waited for (Postgres's postmaster: its backends that exited).
 */
export function cpuTimeMs(pid: number, reapedChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const children = reapedChildren ? Number(fields[13]) + Number(fields[14]) : 0;
    return ((utime + stime + children) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}
