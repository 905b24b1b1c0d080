/**
 * `ipvsd: checks`: the health monitor (src/check) on an event loop of its own, knowing nothing of
 * IPVS or VRRP. The parent sends the complete target list (after every update and at every start
 * of this process, each target with the health the parent last knew, so a restart takes out
 * nothing healthy); every probe result goes back with the target's state after it, in batches
 * every RESULT_BATCH_MS, and at once (in the next turn of the loop) after a change of health or
 * of a file check's weight delta.
 */
import { createHealthMonitor, type HealthMonitor } from '../check/monitor.js';
import type { Logger } from '../sys/logger.js';
import {
  type FromChecks,
  MAX_REASON_LENGTH,
  RESULT_BATCH_MS,
  type ResultRecord,
  type ToChecks,
} from './protocol.js';

export interface ChecksChildDeps {
  readonly send: (message: FromChecks) => void;
  readonly logger: Logger;
  /** Default: the real monitor. */
  readonly monitor?: HealthMonitor;
  /** Where the parent's messages come from. Default: the IPC channel (process 'message'). */
  readonly onMessage?: (listener: (message: unknown) => void) => void;
}

export function runChecksChild(deps: ChecksChildDeps): void {
  const monitor =
    deps.monitor ?? createHealthMonitor({ logger: deps.logger.child({ component: 'ipvsd:check' }) });
  let pending: ResultRecord[] = [];
  let timer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;

  const flush = (): void => {
    if (timer !== null) clearTimeout(timer);
    if (immediate !== null) clearImmediate(immediate);
    timer = null;
    immediate = null;
    if (pending.length === 0) return;
    const results = pending;
    pending = [];
    deps.send({ t: 'results', results });
  };

  monitor.onResult((id, result, status) => {
    // Results and states are live objects the monitor reuses: copied into the record now.
    pending.push([
      id,
      result.ok,
      result.latencyMs,
      result.reason.length > MAX_REASON_LENGTH
        ? `${result.reason.slice(0, MAX_REASON_LENGTH - 1)}…`
        : result.reason,
      status.health,
      status.consecutiveOk,
      status.consecutiveFail,
      status.lastCheckedAt ?? Date.now(),
      false,
      status.weightDelta ?? 0,
    ]);
    timer ??= setTimeout(flush, RESULT_BATCH_MS);
  });
  monitor.onChange((id) => {
    // The change (of health or weight delta) is the last result recorded for this target: mark
    // it, and send without waiting.
    const r = pending[pending.length - 1];
    if (r !== undefined && r[0] === id)
      pending[pending.length - 1] = [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], true, r[9]];
    immediate ??= setImmediate(flush);
  });

  const onMessage = deps.onMessage ?? ((listener) => void process.on('message', listener));
  onMessage((raw) => {
    const message = raw as ToChecks;
    if (message?.t === 'targets') {
      monitor.update(message.targets);
      deps.logger.info({ targets: message.targets.length }, 'check targets received');
    }
  });
}
