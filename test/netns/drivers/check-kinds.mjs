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
