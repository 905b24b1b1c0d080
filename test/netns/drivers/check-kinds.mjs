// Driver for node-agent.mjs: the compiled dns/udp/ping/smtp/file probes inside a namespace. Checks
// arrive as JSON, so the UDP check's byte fields come as hex strings and are turned back here.
import { runProbe } from '../../../dist/src/check/probe.js';

const bytes = (hex) => (hex === null || hex === undefined ? null : Uint8Array.from(Buffer.from(hex, 'hex')));

export function probe(check) {
  const real =
    check.type === 'udp'
      ? {
          ...check,
          payload: bytes(check.payload),
          replyData: bytes(check.replyData),
          replyMask: bytes(check.replyMask),
        }
      : check;
  return runProbe(real, new AbortController().signal);
}

import { checkTargetId } from '../../../dist/src/check/target-id.js';
import { forkChild } from '../../../dist/src/proc/fork.js';

const real = (check) =>
  check.type === 'udp'
    ? {
        ...check,
        payload: bytes(check.payload),
        replyData: bytes(check.replyData),
        replyMask: bytes(check.replyMask),
      }
    : check;

let child = null;
let records = [];

/**
 * The daemon's real checks child (`ipvsd: checks`, forked as ipvsd forks it, structured-clone IPC)
 * with these checks as its targets; returns their ids. Results are collected for childRecords().
 */
export function childStart(checks) {
  const targets = checks.map((c) => {
    const check = real(c);
    return { id: checkTargetId(check), check, start: 'up' };
  });
  records = [];
  child = forkChild('checks');
  child.onMessage((m) => {
    if (m?.t === 'ready') child.send({ t: 'targets', targets });
    if (m?.t === 'results') records.push(...m.results);
  });
  return targets.map((t) => t.id);
}

/** [id, ok, latencyMs, reason, health, consecutiveOk, consecutiveFail, checkedAt, changed] records so far. */
export const childRecords = () => records;

export async function childStop() {
  if (child === null) return;
  const c = child;
  child = null;
  const exited = new Promise((resolve) => c.onExit(resolve));
  c.disconnect();
  await exited;
}
