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
import { addressToBytes } from '../model/address.js';
import { type DestinationState, hostPort, type IpvsStats, type ServiceState } from '../model/ipvs.js';

const FAMILY_ORDER = { inet: 2, inet6: 10 } as const;
const PROTOCOL_ORDER = { tcp: 6, udp: 17, sctp: 132 } as const;

function compareAddresses(a: string, b: string): number {
  return Buffer.compare(addressToBytes(a) ?? Buffer.alloc(0), addressToBytes(b) ?? Buffer.alloc(0));
}

/**
 * The order ipvsadm lists in (libipvs ipvs_cmp_services / ipvs_cmp_dests): address services before
 * fwmark ones, then family, protocol, address, port; destinations by address, then port. The kernel
 * dumps in hash order, which is meaningless to a reader.
 */
export function sortTable(services: readonly ServiceState[]): ServiceState[] {
  const keyOrder = (s: ServiceState): number[] => [
    s.key.fwmark ?? 0,
    FAMILY_ORDER[s.key.family],
    s.key.protocol === null ? 0 : PROTOCOL_ORDER[s.key.protocol],
  ];
  return [...services]
    .sort((a, b) => {
      const ka = keyOrder(a);
      const kb = keyOrder(b);
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return (ka[i] ?? 0) - (kb[i] ?? 0);
      if (a.key.address !== null && b.key.address !== null) {
        const byAddress = compareAddresses(a.key.address, b.key.address);
        if (byAddress !== 0) return byAddress;
      }
      return (a.key.port ?? 0) - (b.key.port ?? 0);
    })
    .map((s) => ({
      ...s,
      destinations: [...s.destinations].sort(
        (x, y) => compareAddresses(x.address, y.address) || x.port - y.port,
      ),
    }));
}

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
