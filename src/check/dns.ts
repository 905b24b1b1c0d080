/**
 * The DNS check (keepalived's DNS_CHECK): one query over UDP to the target, judged by
 * ./dns-message.ts. A new random ID per attempt; datagrams that are not the answer (short, other
 * ID, not a response) are skipped until the deadline, as keepalived skips them.
 */
import { randomInt } from 'node:crypto';
import type { DnsCheck } from '../config/types.js';
import { startDatagramExchange } from './datagram.js';
import { encodeDnsQuery, judgeDnsReply, rcodeName } from './dns-message.js';
import { type ProbeResult, probeAsPromise, timeoutReason } from './result.js';

export type DnsProbeCheck = Pick<
  DnsCheck,
  'connectIp' | 'connectPort' | 'bindIp' | 'timeoutMs' | 'queryType' | 'queryName'
>;

export function startDnsProbe(check: DnsProbeCheck, done: (result: ProbeResult) => void): () => void {
  const id = randomInt(0x10000);
  return startDatagramExchange(
    {
      address: check.connectIp,
      port: check.connectPort,
      bindIp: check.bindIp,
      payload: encodeDnsQuery(id, check.queryName, check.queryType),
      timeoutMs: check.timeoutMs,
      judge: (message, latencyMs) => {
        const v = judgeDnsReply(message, id);
        if (v.kind === 'skip') return null;
        return { ok: v.rcode === 0, latencyMs, reason: rcodeName(v.rcode) };
      },
      onTimeout: (latencyMs) => ({ ok: false, latencyMs, reason: timeoutReason(check.timeoutMs) }),
    },
    done,
  );
}

export function probeDns(check: DnsProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  return probeAsPromise(startDnsProbe, check, signal);
}
