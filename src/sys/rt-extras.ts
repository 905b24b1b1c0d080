/**
 * The rtnetlink work VRRP needs beyond addresses (sys/rtnetlink.ts): routes and policy rules a
 * master adds (keepalived's virtual_routes / virtual_rules) and the macvlan with the VRRP virtual
 * MAC (keepalived's use_vmac), all through node-netlink's public API on one socket of its own,
 * one request at a time. The request builders are pure and exported for tests; the calls are
 * idempotent (`ensure…` report whether they changed anything). Failures surface as NetlinkError
 * with errno; nothing is thrown from node-netlink's listeners (DESIGN §7).
 */
import { createRtNetlink, FlagsNew, type RtNetlinkSocket, type rt } from 'netlink';
import { IpvsdError } from '../errors.js';
import type { Family } from '../model/ipvs.js';
import type { RouteSpec, RuleSpec } from '../model/routing.js';
import { type ParsedCidr, parseCidr, parseIp } from './ip-address.js';
import { isErrno, toNetlinkError } from './netlink-errors.js';

/** <linux/socket.h> */
const AF_INET = 2;
const AF_INET6 = 10;
/** <linux/rtnetlink.h> */
const RT_TABLE_MAIN = 254;
/** rtm_table holds 8 bits; bigger ids go in RTA_TABLE / FRA_TABLE with this in the header. */
const RT_TABLE_COMPAT = 252;
const RTPROT_STATIC = 4;
const RTN_UNICAST = 1;
const RTN_BLACKHOLE = 6;
const RTN_UNREACHABLE = 7;
const RTN_PROHIBIT = 8;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;
/** <linux/fib_rules.h> */
const FR_ACT_TO_TBL = 1;
const FR_ACT_BLACKHOLE = 6;
const FR_ACT_UNREACHABLE = 7;
const FR_ACT_PROHIBIT = 8;
/** <linux/if_link.h>: IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_MACVLAN_MODE, MACVLAN_MODE_PRIVATE. */
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_MACVLAN_MODE = 1;
export const MACVLAN_MODE_PRIVATE = 1;
const NLA_F_NESTED = 0x8000;

export interface RtExtras {
  /** Adds the route; false when it was there already. */
  ensureRoute(route: RouteSpec): Promise<boolean>;
  /** Removes the route; false when it was not there. */
  ensureNoRoute(route: RouteSpec): Promise<boolean>;
  ensureRule(rule: RuleSpec): Promise<boolean>;
  ensureNoRule(rule: RuleSpec): Promise<boolean>;
  /**
   * Creates (or keeps) macvlan `name` on `parent` in private mode with `mac`, and sets it up.
   * An existing interface of that name is kept when it is a macvlan on `parent` with that MAC;
   * anything else there is an error (EEXIST).
   */
  ensureMacvlan(name: string, parent: string, mac: Buffer): Promise<boolean>;
  /** Deletes the interface; false when it did not exist. */
  ensureNoLink(name: string): Promise<boolean>;
  close(): void;
}

/** The part of node-netlink's socket used here; tests inject a fake. */
export type RtExtrasSocket = Pick<
  RtNetlinkSocket,
  'newRoute' | 'delRoute' | 'newRule' | 'delRule' | 'newLink' | 'delLink' | 'getLink' | 'setLink' | 'socket'
>;

const familyNumber = (f: Family): number => (f === 'inet' ? AF_INET : AF_INET6);

function addressBytes(text: string): Buffer {
  const parsed = parseIp(text);
  if (parsed === null) throw new IpvsdError('IPVSD_ERR_USAGE', `invalid IP address ${JSON.stringify(text)}`);
  return Buffer.from(parsed.bytes);
}

const ROUTE_TYPES = {
  unicast: RTN_UNICAST,
  blackhole: RTN_BLACKHOLE,
  unreachable: RTN_UNREACHABLE,
  prohibit: RTN_PROHIBIT,
};
const RULE_ACTIONS = {
  table: FR_ACT_TO_TBL,
  blackhole: FR_ACT_BLACKHOLE,
  unreachable: FR_ACT_UNREACHABLE,
  prohibit: FR_ACT_PROHIBIT,
};

/** The rtmsg and attributes of RTM_NEWROUTE / RTM_DELROUTE (pure). `oif`: the index of `dev`. */
export function routeRequest(route: RouteSpec, oif: number | null): { data: rt.Route; attrs: rt.RouteAttrs } {
  const dst: ParsedCidr = parseCidr(route.to);
  const table = route.table ?? RT_TABLE_MAIN;
  // keepalived's default is RT_SCOPE_UNIVERSE whatever the gateway (vrrp_iproute.c alloc_route).
  const scope =
    route.scope === 'host' ? RT_SCOPE_HOST : route.scope === 'link' ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  const attrs: rt.RouteAttrs = { table };
  if (dst.prefixLength > 0) attrs.dst = Buffer.from(dst.bytes);
  if (route.via !== null) attrs.gateway = addressBytes(route.via);
  if (route.src !== null) attrs.prefsrc = addressBytes(route.src);
  if (oif !== null) attrs.oif = oif;
  if (route.metric !== null) attrs.priority = route.metric;
  return {
    data: {
      family: familyNumber(route.family),
      dstLen: dst.prefixLength,
      table: table < 256 ? table : RT_TABLE_COMPAT,
      protocol: RTPROT_STATIC,
      scope,
      type: ROUTE_TYPES[route.type],
    },
    attrs,
  };
}

/** The fib_rule_hdr and attributes of RTM_NEWRULE / RTM_DELRULE (pure). */
export function ruleRequest(rule: RuleSpec): { data: rt.Rule; attrs: rt.RuleAttrs } {
  const attrs: rt.RuleAttrs = {};
  const data: rt.Rule = { family: familyNumber(rule.family), action: RULE_ACTIONS[rule.action] };
  if (rule.from !== null) {
    const from = parseCidr(rule.from);
    data.srcLen = from.prefixLength;
    if (from.prefixLength > 0) attrs.src = Buffer.from(from.bytes);
  }
  if (rule.to !== null) {
    const to = parseCidr(rule.to);
    data.dstLen = to.prefixLength;
    if (to.prefixLength > 0) attrs.dst = Buffer.from(to.bytes);
  }
  if (rule.table !== null) {
    data.table = rule.table < 256 ? rule.table : RT_TABLE_COMPAT;
    attrs.table = rule.table;
  }
  if (rule.priority !== null) attrs.priority = rule.priority;
  if (rule.fwmark !== null) {
    attrs.fwmark = rule.fwmark;
    if (rule.fwmask !== null) attrs.fwmask = rule.fwmask;
  }
  if (rule.iif !== null) attrs.iifname = rule.iif;
  if (rule.oif !== null) attrs.oifname = rule.oif;
  return { data, attrs };
}

function nla(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

/** IFLA_LINKINFO's payload for a macvlan in `mode` (pure): kind "macvlan", data {mode}. */
export function macvlanLinkInfo(mode: number): Buffer {
  const modeValue = Buffer.alloc(4);
  modeValue.writeUInt32LE(mode, 0);
  return Buffer.concat([
    nla(IFLA_INFO_KIND, Buffer.from('macvlan\0')),
    nla(IFLA_INFO_DATA | NLA_F_NESTED, nla(IFLA_MACVLAN_MODE, modeValue)),
  ]);
}

/** 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6): RFC 5798 §7.3. */
export function vrrpVirtualMac(family: Family, vrid: number): Buffer {
  return Buffer.from([0x00, 0x00, 0x5e, 0x00, family === 'inet' ? 0x01 : 0x02, vrid & 0xff]);
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
};

export function createRtExtras(
  options: { readonly timeoutMs?: number } = {},
  deps: { readonly openSocket?: () => RtExtrasSocket } = {},
): RtExtras {
  const requestOptions = { timeout: options.timeoutMs ?? 5000 };
  let sock: RtExtrasSocket | null = null;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  function socket(): RtExtrasSocket {
    if (sock === null) {
      sock = (deps.openSocket ?? (() => createRtNetlink() as RtExtrasSocket))();
      // Tiny on purpose (§7): without a listener node-netlink's re-emitted 'error' would throw.
      sock.socket.on('error', () => undefined);
    }
    return sock;
  }

  function request<T>(context: string, run: (s: RtExtrasSocket) => Promise<T>): Promise<T> {
    const next = queue.then(async () => {
      if (closed) throw new IpvsdError('IPVSD_ERR_NETLINK', `${context}: the rtnetlink socket is closed`);
      try {
        return await run(socket());
      } catch (err) {
        throw toNetlinkError(err, context);
      }
    });
    queue = next.catch(() => {});
    return next;
  }

  async function linkIndex(ifname: string, context: string): Promise<number> {
    const [link] = await request(context, (s) => s.getLink({}, { ifname }, requestOptions));
    const index = link?.data.index;
    if (index === undefined) throw new IpvsdError('IPVSD_ERR_NETLINK', `${context}: no interface ${ifname}`);
    return index;
  }

  const describeRoute = (r: RouteSpec) =>
    `route ${r.type === 'unicast' ? '' : `${r.type} `}${r.to}${r.via !== null ? ` via ${r.via}` : ''}${r.dev !== null ? ` dev ${r.dev}` : ''}${r.table !== null ? ` table ${r.table}` : ''}`;
  const describeRule = (r: RuleSpec) =>
    `rule${r.from !== null ? ` from ${r.from}` : ''}${r.to !== null ? ` to ${r.to}` : ''}${r.fwmark !== null ? ` fwmark ${r.fwmark}` : ''} ${r.action}${r.table !== null ? ` ${r.table}` : ''}`;

  return {
    async ensureRoute(route) {
      const context = `adding ${describeRoute(route)}`;
      const oif = route.dev === null ? null : await linkIndex(route.dev, context);
      const { data, attrs } = routeRequest(route, oif);
      try {
        await request(context, (s) =>
          s.newRoute(data, attrs, { ...requestOptions, flags: FlagsNew.CREATE | FlagsNew.EXCL }),
        );
        return true;
      } catch (err) {
        if (isErrno(err, 'EEXIST')) return false;
        throw err;
      }
    },
    async ensureNoRoute(route) {
      const context = `removing ${describeRoute(route)}`;
      let oif: number | null = null;
      try {
        oif = route.dev === null ? null : await linkIndex(route.dev, context);
      } catch (err) {
        // The interface is gone, and its routes with it.
        if (isErrno(err, 'ENODEV')) return false;
        throw err;
      }
      const { data, attrs } = routeRequest(route, oif);
      try {
        await request(context, (s) => s.delRoute(data, attrs, requestOptions));
        return true;
      } catch (err) {
        if (isErrno(err, 'ESRCH') || isErrno(err, 'ENOENT') || isErrno(err, 'ENODEV')) return false;
        throw err;
      }
    },
    async ensureRule(rule) {
      const { data, attrs } = ruleRequest(rule);
      try {
        await request(`adding ${describeRule(rule)}`, (s) =>
          s.newRule(data, attrs, { ...requestOptions, flags: FlagsNew.CREATE | FlagsNew.EXCL }),
        );
        return true;
      } catch (err) {
        if (isErrno(err, 'EEXIST')) return false;
        throw err;
      }
    },
    async ensureNoRule(rule) {
      const { data, attrs } = ruleRequest(rule);
      try {
        await request(`removing ${describeRule(rule)}`, (s) => s.delRule(data, attrs, requestOptions));
        return true;
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ESRCH')) return false;
        throw err;
      }
    },
    async ensureMacvlan(name, parent, mac) {
      const context = `creating macvlan ${name} on ${parent}`;
      const parentIndex = await linkIndex(parent, context);
      let created = false;
      try {
        await request(context, (s) =>
          s.newLink(
            { flags: { up: true }, change: { up: true } },
            {
              ifname: name,
              link: u32(parentIndex),
              address: mac,
              linkinfo: macvlanLinkInfo(MACVLAN_MODE_PRIVATE),
            },
            { ...requestOptions, flags: FlagsNew.CREATE | FlagsNew.EXCL },
          ),
        );
        created = true;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
        const [link] = await request(context, (s) => s.getLink({}, { ifname: name }, requestOptions));
        const sameMac = link?.attrs.address !== undefined && Buffer.compare(link.attrs.address, mac) === 0;
        const linkAttr = link?.attrs.link;
        const sameParent =
          linkAttr !== undefined && linkAttr.length >= 4 && linkAttr.readUInt32LE(0) === parentIndex;
        if (!sameMac || !sameParent) throw err;
      }
      const index = await linkIndex(name, context);
      await request(`setting ${name} up`, (s) =>
        s.setLink({ index, flags: { up: true }, change: { up: true } }, {}, requestOptions),
      );
      return created;
    },
    async ensureNoLink(name) {
      let index: number;
      try {
        index = await linkIndex(name, `deleting interface ${name}`);
      } catch (err) {
        if (isErrno(err, 'ENODEV')) return false;
        throw err;
      }
      try {
        await request(`deleting interface ${name}`, (s) => s.delLink({ index }, {}, requestOptions));
        return true;
      } catch (err) {
        if (isErrno(err, 'ENODEV')) return false;
        throw err;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      sock?.socket.close();
    },
  };
}
