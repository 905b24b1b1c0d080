/**
 * An opt-in phase log for measuring a command on a slow machine: with IPVSD_TIMING=1 in the
 * environment, each mark prints `ipvsctl timing: PHASE AT ms (+SINCE ms)` on stderr, AT counted from
 * the process's start (so the first mark shows node's own startup and the bundle's load). Off, a mark
 * costs one comparison. Never part of a command's output contract.
 */
import { performance } from 'node:perf_hooks';

const enabled = process.env.IPVSD_TIMING === '1';
let last = 0;

export function mark(phase: string): void {
  if (!enabled) return;
  const now = performance.now();
  process.stderr.write(`ipvsctl timing: ${phase} ${now.toFixed(1)} ms (+${(now - last).toFixed(1)} ms)\n`);
  last = now;
}
