/**
 * The CPU time a process has used (user + system), from /proc/PID/stat: how the supervisor tells a
 * child that is stuck (stopped, blocked in a system call: no CPU) from one that is busy (a burst
 * of work on a slow machine: CPU, but no heartbeat for a while).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on every Linux ABI). */
const USER_HZ = 100;

/** ms of CPU, or null when the process is gone or /proc cannot be read. */
export function cpuTimeMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / USER_HZ : null;
  } catch {
    return null;
  }
}
