/**
 * `virtual_server_groups`: keepalived's virtual_server_group, one set of real servers behind several
 * services. A group is a list of members, each an address (or an address range, as keepalived
 * writes it: `192.0.2.1-10` is the last byte, `2001:db8::1-1f` the last 16 bits in hex, or a full
 * end address) with a port, or a firewall mark. A virtual server names the group (`group: NAME`)
 * instead of an address or fwmark, and gives the protocol of the address members; every member then
 * becomes a kernel service with the virtual server's real servers (keepalived's ipvswrapper.c
 * `ipvs_group_cmd`). The expansion into service keys happens in the virtual server's reader, which
 * knows the protocol.
 */
import { quote } from '../errors.js';
import { addressToBytes, bytesToAddress } from '../model/address.js';
import type { Family } from '../model/ipvs.js';
import { parseIp } from './addresses.js';
import { type KeywordTable, key, readNamed, readSection, requireKeys } from './keywords.js';
import type { SourcePos } from './types.js';
import { int, oneOf, patterned } from './value-types.js';
import type { Value } from './values.js';

/** Services one group may stand for (ranges expanded), and members it may list. */
export const MAX_GROUP_SERVICES = 65_536;
export const MAX_GROUP_MEMBERS = 4096;

export type GroupMember =
  | {
      readonly kind: 'address';
      readonly family: Family;
      readonly addresses: readonly string[];
      readonly port: number;
      readonly source: SourcePos;
    }
  | { readonly kind: 'fwmark'; readonly family: Family; readonly fwmark: number; readonly source: SourcePos };

export interface VirtualServerGroup {
  readonly name: string;
  readonly members: readonly GroupMember[];
  readonly source: SourcePos;
}

interface MemberDraft {
  address?: { first: string; last: string; family: Family };
  port?: number;
  fwmark?: number;
  family?: Family;
}

/** `A`, `A-N` (last byte / last 16 bits in hex, as keepalived's inet_stor) or `A-B`; null if not. */
export function parseRange(text: string): { first: string; last: string; family: Family } | null {
  const dash = text.indexOf('-');
  const start = parseIp(dash < 0 ? text : text.slice(0, dash));
  if (start === null) return null;
  if (dash < 0) return { first: start.address, last: start.address, family: start.family };
  const endText = text.slice(dash + 1);
  const full = parseIp(endText);
  let last: string;
  if (full !== null) {
    if (full.family !== start.family) return null;
    last = full.address;
  } else {
    const inet = start.family === 'inet';
    if (!(inet ? /^\d{1,3}$/ : /^[0-9a-fA-F]{1,4}$/).test(endText)) return null;
    const n = Number.parseInt(endText, inet ? 10 : 16);
    if (inet && n > 255) return null;
    const bytes = addressToBytes(start.address);
    if (bytes === null) return null;
    if (inet) bytes[3] = n;
    else bytes.writeUInt16BE(n, 14);
    last = bytesToAddress(bytes, start.family);
  }
  return { first: start.address, last, family: start.family };
}

function toBig(address: string): bigint {
  const bytes = addressToBytes(address) ?? Buffer.alloc(4);
  return BigInt(`0x${bytes.toString('hex')}`);
}

function fromBig(n: bigint, family: Family): string {
  const width = family === 'inet' ? 4 : 16;
  return bytesToAddress(Buffer.from(n.toString(16).padStart(width * 2, '0'), 'hex'), family);
}

const MEMBER_KEYWORDS = {
  address: key(
    patterned('^[0-9A-Fa-f:.]+(-[0-9A-Fa-f:.]+)?$', 'address or range', (v: Value) => {
      const text = v.string();
      if (text === undefined) return undefined;
      return parseRange(text) === null
        ? v.fail(
            `address must be an IP address or a range like 192.0.2.1-10 or 192.0.2.1-192.0.2.10, got ${quote(text)}`,
          )
        : text;
    }),
    { description: 'a virtual IP, or a range: `192.0.2.1-10` (last byte), `2001:db8::1-1f`, `A-B`' },
    (d: MemberDraft, x, v) => {
      if (x === undefined) return;
      const range = parseRange(x);
      if (range === null) return;
      if (toBig(range.last) < toBig(range.first)) {
        v.fail(`address range ${quote(x)} ends before it starts`);
        return;
      }
      d.address = range;
    },
  ),
  port: key(
    int(0, 65535),
    { description: 'with `address`; 0 (all ports) needs `persistence` on the virtual server', default: 0 },
    (d: MemberDraft, x) => {
      d.port = x;
    },
  ),
  fwmark: key(
    int(1, 2 ** 32 - 1),
    { description: 'instead of `address`: a firewall-mark service' },
    (d: MemberDraft, x) => {
      d.fwmark = x;
    },
  ),
  family: key(
    oneOf(['inet', 'inet6'] as const),
    { description: 'with `fwmark`', default: 'inet' },
    (d: MemberDraft, x) => {
      d.family = x;
    },
  ),
} satisfies KeywordTable<MemberDraft>;

export { MEMBER_KEYWORDS as GROUP_MEMBER_KEYWORDS };

function readMember(value: Value): GroupMember | undefined {
  const d: MemberDraft = {};
  const fields = readSection(value, 'virtual server group member', MEMBER_KEYWORDS, d);
  if (fields === undefined) return undefined;
  if (fields.has('fwmark')) {
    if (fields.has('address') || fields.has('port'))
      return value.fail('a group member is either "address" (with "port") or "fwmark", not both');
    if (d.fwmark === undefined) return undefined;
    return { kind: 'fwmark', family: d.family ?? 'inet', fwmark: d.fwmark, source: value.pos };
  }
  if (!requireKeys(value, 'virtual server group member', fields, ['address'])) return undefined;
  fields.get('family')?.value.fail('family is only for fwmark members; an address member has its own');
  if (d.address === undefined) return undefined;
  const first = toBig(d.address.first);
  const count = toBig(d.address.last) - first + 1n;
  if (count > BigInt(MAX_GROUP_SERVICES))
    return value.fail(`an address range may hold at most ${MAX_GROUP_SERVICES} addresses, got ${count}`);
  const addresses: string[] = [];
  for (let i = 0n; i < count; i++) addresses.push(fromBig(first + i, d.address.family));
  return {
    kind: 'address',
    family: d.address.family,
    addresses,
    port: d.port ?? MEMBER_KEYWORDS.port.default,
    source: value.pos,
  };
}

/** The groups by name; bad members are reported and left out. */
export function readVirtualServerGroups(value: Value | null): Map<string, VirtualServerGroup> {
  const groups = new Map<string, VirtualServerGroup>();
  if (value === null || value.isNull) return groups;
  readNamed(value, 'virtual_server_groups', (name, entry) => {
    const items = entry.list('group member', MAX_GROUP_MEMBERS);
    if (items === undefined) return;
    if (items.length === 0) {
      entry.fail(`virtual server group ${quote(name)} has no members`);
      return;
    }
    const members = items.map(readMember).filter((m): m is GroupMember => m !== undefined);
    const services = members.reduce((n, m) => n + (m.kind === 'address' ? m.addresses.length : 1), 0);
    if (services > MAX_GROUP_SERVICES) {
      entry.fail(
        `virtual server group ${quote(name)} stands for ${services} services; at most ${MAX_GROUP_SERVICES}`,
      );
      return;
    }
    const families = new Set(members.map((m) => m.family));
    if (families.size > 1) {
      entry.fail(
        `virtual server group ${quote(name)} mixes IPv4 and IPv6 members; its real servers can only be of one family`,
      );
      return;
    }
    groups.set(name, { name, members, source: entry.pos });
  });
  return groups;
}
