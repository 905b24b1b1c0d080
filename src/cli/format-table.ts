/**
 * `ipvsctl list` output: the text reads like `ipvsadm -Ln` (operators know that layout by heart);
 * the JSON is the contract of DESIGN §5, with `family`, `flags` and (with --stats) `stats` added.
 */
import type { IpvsInfo } from '../ipvs/backend.js';
import {
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_SCHED1,
  IP_VS_SVC_F_SCHED2,
  IP_VS_SVC_F_SCHED3,
} from '../ipvs/constants.js';
import { type DestinationState, hostPort, type IpvsStats, type ServiceState } from '../model/ipvs.js';

const FORWARD_TEXT = { nat: 'Masq', local: 'Local', tun: 'Tunnel', dr: 'Route' } as const;

function serviceHead(s: ServiceState): string {
  const k = s.key;
  return k.fwmark !== null
    ? `FWM  ${k.fwmark}${k.family === 'inet6' ? ' IPv6' : ''}`
    : `${k.protocol.toUpperCase()}  ${hostPort(k.address, k.port)}`;
}

/** Scheduler flag names as ipvsadm prints them (flag-1/2/3, or the sh/mh names). */
export function flagNames(scheduler: string, flags: number): string[] {
  const names: string[] = [];
  const named = scheduler === 'sh' || scheduler === 'mh';
  if (flags & IP_VS_SVC_F_SCHED1) names.push(named ? `${scheduler}-fallback` : 'flag-1');
  if (flags & IP_VS_SVC_F_SCHED2) names.push(named ? `${scheduler}-port` : 'flag-2');
  if (flags & IP_VS_SVC_F_SCHED3) names.push('flag-3');
  if (flags & IP_VS_SVC_F_ONEPACKET) names.push('ops');
  return names;
}

export function formatListText(
  info: IpvsInfo,
  services: readonly ServiceState[],
  withStats: boolean,
): string {
  const lines = [`IP Virtual Server version ${info.version} (size=${info.connTableSize})`];
  if (withStats) {
    lines.push(
      'Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes',
      '  -> RemoteAddress:Port',
    );
    const counters = (st: IpvsStats) =>
      [st.conns, st.inPackets, st.outPackets, st.inBytes, st.outBytes]
        .map((n) => String(n).padStart(8))
        .join(' ');
    for (const s of services) {
      lines.push(`${serviceHead(s).padEnd(34)} ${counters(s.stats)}`);
      for (const d of s.destinations)
        lines.push(`  -> ${hostPort(d.address, d.port).padEnd(30)} ${counters(d.stats)}`);
    }
    return `${lines.join('\n')}\n`;
  }
  lines.push(
    'Prot LocalAddress:Port Scheduler Flags',
    '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
  );
  for (const s of services) {
    let head = `${serviceHead(s)} ${s.scheduler}`;
    const flags = flagNames(s.scheduler, s.flags);
    if (flags.length) head += ` (${flags.join(',')})`;
    if (s.persistence) {
      head += ` persistent ${s.persistence.timeoutS}`;
      const full = s.key.family === 'inet' ? '255.255.255.255' : '128';
      if (s.persistence.netmask !== full) head += ` mask ${s.persistence.netmask}`;
    }
    lines.push(head);
    for (const d of s.destinations) lines.push(destinationLine(d));
  }
  return `${lines.join('\n')}\n`;
}

function destinationLine(d: DestinationState): string {
  return `  -> ${hostPort(d.address, d.port).padEnd(28)} ${FORWARD_TEXT[d.forwarding].padEnd(7)} ${String(d.weight).padEnd(6)} ${String(d.activeConns).padEnd(10)} ${d.inactiveConns}`;
}

const statsJson = (st: IpvsStats) => ({
  conns: st.conns,
  inPackets: st.inPackets,
  outPackets: st.outPackets,
  inBytes: st.inBytes,
  outBytes: st.outBytes,
  cps: st.cps,
  inPps: st.inPps,
  outPps: st.outPps,
  inBps: st.inBps,
  outBps: st.outBps,
});

export function listJson(services: readonly ServiceState[], withStats: boolean): unknown {
  return {
    services: services.map((s) => ({
      family: s.key.family,
      protocol: s.key.protocol,
      address: s.key.address,
      port: s.key.port,
      fwmark: s.key.fwmark,
      scheduler: s.scheduler,
      flags: flagNames(s.scheduler, s.flags),
      persistence: s.persistence ? { timeout: s.persistence.timeoutS, netmask: s.persistence.netmask } : null,
      ...(withStats ? { stats: statsJson(s.stats) } : {}),
      destinations: s.destinations.map((d) => ({
        address: d.address,
        port: d.port,
        forwarding: d.forwarding,
        weight: d.weight,
        upperThreshold: d.upperThreshold,
        lowerThreshold: d.lowerThreshold,
        activeConns: d.activeConns,
        inactiveConns: d.inactiveConns,
        persistConns: d.persistConns,
        ...(withStats ? { stats: statsJson(d.stats) } : {}),
      })),
    })),
  };
}
