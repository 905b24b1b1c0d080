/**
 * Full NAT's source-NAT rules, as data and as the text `nft -f -` reads (pure: no I/O).
 *
 * A real server has one default gateway, so with N active directors its replies must be addressed
 * to the director that forwarded the request: each director rewrites the source of what IPVS
 * forwards to a full-NAT service's real servers to its own server-side address (`full_nat`). IPVS
 * masquerade only rewrites the destination; the source rewrite is a `snat` in a nat chain at
 * postrouting, which sees IPVS's forwarded packets once `net.ipv4.vs.conntrack=1` gives them a
 * conntrack entry. A nat chain sees only the first packet of a connection; its binding then holds
 * for the whole connection, replies included, whatever later happens to the rules.
 *
 * What a rule matches, so that only IPVS-forwarded traffic of that service is rewritten: the
 * conntrack's original destination is the service (`ct original ip daddr VIP ct original proto-dst
 * PORT`, the client's packet before IPVS rewrote it) and the packet's destination now is one of
 * the service's real servers or its sorry server (`ip daddr . th dport { … }`). The director's own
 * health checks to the same real servers have the real server as their original destination and
 * stay untouched. A firewall-mark service has no single original destination: its rule matches
 * the mark (`meta mark`), which stays on the packet through IPVS, and the destinations.
 *
 * Everything lives in one table of ipvsd's own, `inet ipvsd`, replaced as a whole in one
 * transaction (add, delete, create: the idiom that works whether or not the table exists), so
 * the kernel never holds half a rule set and nothing outside the table is touched.
 */
import type { VirtualServerConfig } from '../config/types.js';
import type { Family, Protocol } from '../model/ipvs.js';

export const NAT_TABLE_FAMILY = 'inet';
export const NAT_TABLE_NAME = 'ipvsd';
export const NAT_CHAIN_NAME = 'full_nat';

export interface NatDestination {
  readonly address: string;
  readonly port: number;
}

/** One full-NAT service: what its rule matches and the source it writes. */
export interface FullNatService {
  /** The virtual server's name (the rule's comment). */
  readonly name: string;
  readonly family: Family;
  /** The service as the client addressed it; null for a firewall-mark service. */
  readonly original: { readonly protocol: Protocol; readonly address: string; readonly port: number } | null;
  /** Firewall-mark services only. */
  readonly fwmark: number | null;
  /** Real servers and the sorry server, sorted and without repeats. */
  readonly destinations: readonly NatDestination[];
  /** The `full_nat` address. */
  readonly source: string;
}

/**
 * The full-NAT services of a config, in config order. Every configured real server is in the set,
 * whatever its health: the rules change with the config, never with a health check.
 */
export function fullNatServices(virtualServers: readonly VirtualServerConfig[]): FullNatService[] {
  const out: FullNatService[] = [];
  for (const vs of virtualServers) {
    if (vs.fullNat === null) continue;
    const seen = new Map<string, NatDestination>();
    for (const d of [...vs.realServers, ...(vs.sorryServer ? [vs.sorryServer] : [])])
      seen.set(`${d.address} ${d.port}`, { address: d.address, port: d.port });
    const destinations = [...seen.values()].sort(
      (a, b) => compareText(a.address, b.address) || a.port - b.port,
    );
    const key = vs.key;
    out.push({
      name: vs.name,
      family: key.family,
      original: key.fwmark === null ? { protocol: key.protocol, address: key.address, port: key.port } : null,
      fwmark: key.fwmark,
      destinations,
      source: vs.fullNat,
    });
  }
  return out;
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The rule of one service, in nft's syntax (one line); null when it has no destination yet. */
export function ruleText(service: FullNatService): string | null {
  if (service.destinations.length === 0) return null;
  const ip = service.family === 'inet' ? 'ip' : 'ip6';
  const parts: string[] = [];
  if (service.original !== null) {
    const o = service.original;
    parts.push(
      `meta l4proto ${o.protocol}`,
      `ct original ${ip} daddr ${o.address}`,
      `ct original proto-dst ${o.port}`,
    );
  } else {
    // `th dport` reads the transport header: keep it to the protocols that have ports.
    parts.push(`meta nfproto ${service.family === 'inet' ? 'ipv4' : 'ipv6'}`, `meta mark ${service.fwmark}`);
    parts.push('meta l4proto { tcp, udp, sctp }');
  }
  const elements = service.destinations.map((d) => `${d.address} . ${d.port}`).join(', ');
  parts.push(`${ip} daddr . th dport { ${elements} }`);
  parts.push('counter', `snat ${ip} to ${service.source}`);
  parts.push(`comment "${commentText(service)}"`);
  return parts.join(' ');
}

/** nft comments are quoted strings without escapes, at most 128 bytes. */
function commentText(service: FullNatService): string {
  return `ipvsd ${service.name}`.replace(/[^A-Za-z0-9 _.,:/@+=-]/g, '_').slice(0, 128);
}

/**
 * The `nft -f -` input that leaves exactly these rules in ipvsd's table, in one transaction; with
 * no rule at all, it removes the table.
 */
export function nftScript(services: readonly FullNatService[]): string {
  const table = `${NAT_TABLE_FAMILY} ${NAT_TABLE_NAME}`;
  // Declaring the table first makes the delete valid when it does not exist yet.
  const lines = [`table ${table} {}`, `delete table ${table}`];
  const rules = services.map(ruleText).filter((r): r is string => r !== null);
  if (rules.length > 0) {
    lines.push(`table ${table} {`, `  chain ${NAT_CHAIN_NAME} {`);
    lines.push('    type nat hook postrouting priority srcnat; policy accept;');
    for (const rule of rules) lines.push(`    ${rule}`);
    lines.push('  }', '}');
  }
  return `${lines.join('\n')}\n`;
}

/** How many rules nftScript writes for these services. */
export function ruleCount(services: readonly FullNatService[]): number {
  return services.filter((s) => s.destinations.length > 0).length;
}

/**
 * What `nft -j list table inet ipvsd` printed, reduced to what the table holds: no metainfo (the
 * program's version), no handles (a rule deleted and added back the same is the same), no counter
 * values (they move with every connection). Two listings of an unchanged table give the same
 * text; any change to the table, its chain or a rule gives another. Null when it is not JSON of
 * that shape.
 */
export function listingFingerprint(json: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return null;
  }
  const items = (parsed as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) return null;
  const kept = items.filter((item) => !(typeof item === 'object' && item !== null && 'metainfo' in item));
  return JSON.stringify(kept, (key, value: unknown) => {
    if (key === 'handle') return undefined;
    if (key === 'counter' && typeof value === 'object' && value !== null) return {};
    return value;
  });
}
