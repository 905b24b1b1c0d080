// Driver for node-agent.mjs: the compiled health checks (src/check) running inside a namespace.
import { createHealthMonitor } from '../../../dist/src/check/monitor.js';
import { runProbe } from '../../../dist/src/check/probe.js';
import { checkTargetId } from '../../../dist/src/check/target-id.js';

/** One probe to completion. */
export const probe = (check) => runProbe(check, new AbortController().signal);

/** One probe, aborted after `ms`. */
export function probeAbortedAfter(check, ms) {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), ms);
  return runProbe(check, controller.signal);
}

let monitor = null;
let events = [];

/** A real monitor on real timers; targets are `{ check, start }`, ids made here. */
export function monitorStart(targets) {
  monitor = createHealthMonitor();
  events = [];
  const t0 = Date.now();
  monitor.onChange((id, status) =>
    events.push({
      kind: 'change',
      id,
      at: Date.now() - t0,
      health: status.health,
      reason: status.lastResult?.reason ?? null,
    }),
  );
  monitor.onResult((id, result) =>
    events.push({ kind: 'result', id, at: Date.now() - t0, ok: result.ok, reason: result.reason }),
  );
  const withIds = targets.map((t) => ({ id: checkTargetId(t.check), check: t.check, start: t.start }));
  monitor.update(withIds);
  return withIds.map((t) => t.id);
}

/** The next update(): targets `{ id, check, start }` with the ids given (a reload may keep an id). */
export function monitorUpdate(targets) {
  monitor.update(targets);
}

export const monitorEvents = () => events;
export const monitorSnapshot = () => Object.fromEntries(monitor?.snapshot() ?? []);

export async function monitorStop() {
  await monitor?.stop();
  monitor = null;
}

export const close = () => monitorStop();

/**
 * One probe started just before this process stops running for `stallMs` (a busy event loop, or
 * a process the scheduler left out, as a daemon starting under TCG is): the server answers during
 * the stall, the deadline passes during it too.
 */
export function probeThroughStall(check, stallMs) {
  const result = runProbe(check, new AbortController().signal);
  const until = performance.now() + stallMs;
  while (performance.now() < until) {
    // spin: nothing else of this process runs
  }
  return result;
}
