/**
 * The UDP check (keepalived's UDP_CHECK, check_udp.c and layer4.c udp_socket_state): send the
 * payload on a connected socket; an error on the socket (an ICMP port unreachable arrives as
 * ECONNREFUSED) fails; a reply passes unless reply data is configured and does not match
 * (./udp-payload.ts); silence until the deadline passes, unless `require_reply` asks for a reply.
 *
 * keepalived sets IP_RECVERR and so fails on every ICMP destination unreachable (host and network
 * unreachable too, which a connected socket does not report without it); those are read from a
 * raw ICMP socket instead (./udp-unreachable.ts).
 */
import type { UdpCheck } from '../config/types.js';
import { startDatagramExchange } from './datagram.js';
import { unreachableReason } from './icmp-message.js';
import { type ProbeResult, probeAsPromise, timeoutReason } from './result.js';
import { UDP_DEFAULT_PAYLOAD, udpReplyProblem } from './udp-payload.js';

export type UdpProbeCheck = Pick<
  UdpCheck,
  | 'connectIp'
  | 'connectPort'
  | 'bindIp'
  | 'timeoutMs'
  | 'payload'
  | 'requireReply'
  | 'replyData'
  | 'replyMask'
  | 'minReplyLength'
  | 'maxReplyLength'
>;

export function startUdpProbe(check: UdpProbeCheck, done: (result: ProbeResult) => void): () => void {
  return startDatagramExchange(
    {
      address: check.connectIp,
      port: check.connectPort,
      bindIp: check.bindIp,
      payload: check.payload ?? UDP_DEFAULT_PAYLOAD,
      timeoutMs: check.timeoutMs,
      judge: (message, latencyMs) => {
        if (!check.requireReply) return { ok: true, latencyMs, reason: 'reply' };
        const problem = udpReplyProblem(message, message.length, check);
        return problem === null
          ? { ok: true, latencyMs, reason: `reply of ${message.length} bytes` }
          : { ok: false, latencyMs, reason: problem };
      },
      onUnreachable: (family, code, latencyMs) => ({
        ok: false,
        latencyMs,
        reason: unreachableReason(family, code),
      }),
      onTimeout: (latencyMs) =>
        check.requireReply
          ? { ok: false, latencyMs, reason: timeoutReason(check.timeoutMs, 'no reply') }
          : { ok: true, latencyMs, reason: 'no ICMP error' },
    },
    done,
  );
}

export function probeUdp(check: UdpProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  return probeAsPromise(startUdpProbe, check, signal);
}
