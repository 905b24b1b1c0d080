/**
 * Announced VIPs as kernel state a routing daemon imports: one unicast host route per announced VIP
 * (`203.0.113.100/32 dev lo`) in a routing table of ipvsd's own, marked with ipvsd's rtm_protocol.
 * BIRD (`protocol kernel { kernel table 200; learn; … }`) or FRR (`ip import-table 200`) picks the
 * route up and announces it over BGP; when the route goes, they withdraw it. No rule points at the
 * table, so the kernel never forwards by it: the route is a statement, not a path.
 *
 * Level-triggered like the IPVS reconciler: every sync reads the table and makes ipvsd's routes in
 * it exactly the wanted set, so a route removed by hand comes back at the next sync and a stale
 * one goes. Routes of any other protocol are never touched, not even for a wanted VIP: that VIP is
 * then reported as not announced.
 *
 * IPVS sees a packet only once it is delivered locally, so each VIP is also made local, announced
 * or not (withdrawn VIPs keep serving the connections they have while the routers move new ones
 * elsewhere): a `local` route (`ip route add local VIP/32 dev lo table local`, RTN_LOCAL, scope
 * host) with ipvsd's protocol, not an address on lo. An address would do for the kernel, but FRR's
 * zebra turns it into a connected route (even with noprefixroute, FRRouting/frr#14952) and prefers
 * that over the route it imports from ipvsd's table, so it would announce nothing; a local route is
 * no connected route. A VIP the host already holds as an address has the kernel's own local route
 * (protocol kernel): left alone, nothing to do.
 */
import { isErrno } from './netlink-errors.js';
import { type HostRoute, RT_TABLE_LOCAL, RTN_LOCAL, type Rtnetlink } from './rtnetlink.js';

export interface AnnounceTableSettings {
  readonly table: number;
  readonly protocol: number;
  readonly interface: string;
}

export interface RoutePlan {
  readonly add: readonly string[];
  readonly remove: readonly string[];
  /** Wanted VIPs the table already routes with another protocol's route: left alone. */
  readonly blocked: readonly { readonly address: string; readonly protocol: number }[];
}

/** What a sync must change (pure): `existing` is the table's host routes, any protocol. */
export function planRoutes(
  existing: readonly HostRoute[],
  wanted: readonly string[],
  protocol: number,
): RoutePlan {
  const ours = new Set(existing.filter((r) => r.protocol === protocol).map((r) => r.address));
  const foreign = new Map(
    existing.filter((r) => r.protocol !== protocol).map((r) => [r.address, r.protocol]),
  );
  const want = new Set(wanted);
  const add: string[] = [];
  const blocked: { address: string; protocol: number }[] = [];
  for (const address of want) {
    if (ours.has(address)) continue;
    const other = foreign.get(address);
    if (other === undefined) add.push(address);
    else blocked.push({ address, protocol: other });
  }
  const remove = [...ours].filter((a) => !want.has(a));
  return { add, remove, blocked };
}

export interface RouteSyncResult {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Per VIP that could not be made as wanted: why. */
  readonly errors: ReadonlyMap<string, string>;
}

export interface LocalRouteSyncResult extends RouteSyncResult {
  /** VIPs already local without ipvsd (an address of the host, or another's local route): left alone. */
  readonly alreadyLocal: readonly string[];
}

export interface LocalRoutePlan {
  /** Wanted VIPs with no local route yet: add ours. */
  readonly add: readonly string[];
  /** Our routes to remove: not wanted, or on another interface or under an older protocol (then re-added). */
  readonly remove: readonly HostRoute[];
  /** Wanted VIPs already local (an address of the host: the kernel's local route; or another's local route): nothing to do. */
  readonly alreadyLocal: readonly string[];
  /** Wanted VIPs the table local routes otherwise (another protocol's non-local route): left alone. */
  readonly blocked: readonly { readonly address: string; readonly protocol: number; readonly type: number }[];
}

/**
 * What a local-route sync must change (pure). `existing` is the host routes of the table local, any
 * protocol; ours are those of type local with `protocol` (or `previousProtocol`, before a reload
 * changed it). `ifindex` is the announce interface's: ours elsewhere are moved.
 */
export function planLocalRoutes(
  existing: readonly HostRoute[],
  wanted: readonly string[],
  options: {
    readonly protocol: number;
    readonly previousProtocol?: number;
    readonly ifindex: number;
    readonly removeOthers: boolean;
  },
): LocalRoutePlan {
  const isOurs = (r: HostRoute) =>
    r.type === RTN_LOCAL && (r.protocol === options.protocol || r.protocol === options.previousProtocol);
  const want = new Set(wanted);
  const remove: HostRoute[] = [];
  const kept = new Set<string>();
  for (const r of existing.filter(isOurs)) {
    const right = r.protocol === options.protocol && r.ifindex === options.ifindex;
    if (want.has(r.address) && right) kept.add(r.address);
    else if (want.has(r.address) || options.removeOthers) remove.push(r);
  }
  const add: string[] = [];
  const alreadyLocal: string[] = [];
  const blocked: { address: string; protocol: number; type: number }[] = [];
  for (const address of want) {
    if (kept.has(address)) continue;
    const others = existing.filter((r) => r.address === address && !isOurs(r));
    const local = others.find((r) => r.type === RTN_LOCAL);
    if (local !== undefined) alreadyLocal.push(address);
    else if (others[0] !== undefined)
      blocked.push({ address, protocol: others[0].protocol, type: others[0].type });
    else add.push(address);
  }
  return { add, remove, alreadyLocal, blocked };
}

export interface AnnounceKernel {
  /**
   * Makes ipvsd's routes in the table exactly `announced`. With new settings (another table or
   * protocol after a reload) its routes under the old ones go first. Never rejects: what failed is
   * in `errors` (a failed table read puts its message under the key "").
   */
  syncRoutes(settings: AnnounceTableSettings, announced: readonly string[]): Promise<RouteSyncResult>;
  /**
   * Makes the VIPs local (a `local` route of ipvsd's protocol on `settings.interface` in the
   * kernel's table local, see planLocalRoutes). With `removeOthers`, ipvsd's local routes to any
   * other address go (a reload dropped the VIP, a stop removes them); without, it only adds.
   * Never rejects: what failed is in `errors` (a failed read under "").
   */
  syncLocalRoutes(
    settings: AnnounceTableSettings,
    vips: readonly string[],
    removeOthers: boolean,
  ): Promise<LocalRouteSyncResult>;
}

export function createAnnounceKernel(rtnl: Rtnetlink): AnnounceKernel {
  let last: AnnounceTableSettings | null = null;
  /** The protocol ipvsd's local routes were last made with: a reload that changes it moves them. */
  let lastLocalProtocol: number | null = null;

  async function removeAllOf(
    settings: AnnounceTableSettings,
    errors: Map<string, string>,
  ): Promise<string[]> {
    const removed: string[] = [];
    const routes = await rtnl.listHostRoutes(settings.table);
    for (const route of routes) {
      if (route.protocol !== settings.protocol) continue;
      try {
        await rtnl.removeHostRoute({
          address: route.address,
          table: settings.table,
          protocol: settings.protocol,
        });
        removed.push(route.address);
      } catch (err) {
        if (!isErrno(err, 'ESRCH')) errors.set(route.address, (err as Error).message);
      }
    }
    return removed;
  }

  return {
    async syncRoutes(settings, announced) {
      const errors = new Map<string, string>();
      const added: string[] = [];
      const removed: string[] = [];
      try {
        if (last !== null && (last.table !== settings.table || last.protocol !== settings.protocol))
          removed.push(...(await removeAllOf(last, errors)));
        last = settings;
        const plan = planRoutes(await rtnl.listHostRoutes(settings.table), announced, settings.protocol);
        for (const { address, protocol } of plan.blocked)
          errors.set(
            address,
            `table ${settings.table} already has a route to ${address} with protocol ${protocol}, which ipvsd did not make: left alone`,
          );
        // Withdrawals first: a failed add must not delay one.
        for (const address of plan.remove) {
          try {
            await rtnl.removeHostRoute({ address, table: settings.table, protocol: settings.protocol });
            removed.push(address);
          } catch (err) {
            if (!isErrno(err, 'ESRCH')) errors.set(address, (err as Error).message);
          }
        }
        for (const address of plan.add) {
          try {
            await rtnl.addHostRoute(
              { address, table: settings.table, protocol: settings.protocol },
              settings.interface,
            );
            added.push(address);
          } catch (err) {
            errors.set(address, (err as Error).message);
          }
        }
      } catch (err) {
        errors.set('', (err as Error).message);
      }
      return { added, removed, errors };
    },

    async syncLocalRoutes(settings, vips, removeOthers) {
      const errors = new Map<string, string>();
      const added: string[] = [];
      const removed: string[] = [];
      const alreadyLocal: string[] = [];
      try {
        const previousProtocol = lastLocalProtocol ?? undefined;
        const ifindex = await rtnl.interfaceIndex(settings.interface);
        const plan = planLocalRoutes(await rtnl.listHostRoutes(RT_TABLE_LOCAL), vips, {
          protocol: settings.protocol,
          ...(previousProtocol !== undefined && { previousProtocol }),
          ifindex,
          removeOthers,
        });
        lastLocalProtocol = settings.protocol;
        alreadyLocal.push(...plan.alreadyLocal);
        for (const { address, protocol, type } of plan.blocked)
          errors.set(
            address,
            `the table local already has a route of type ${type} to ${address} with protocol ${protocol}, which ipvsd did not make: left alone`,
          );
        // A route on the wrong interface or under an old protocol goes before its replacement
        // (the kernel refuses a second local route to one address): a short gap, only on such a reload.
        for (const route of plan.remove) {
          try {
            await rtnl.removeHostRoute({
              address: route.address,
              table: RT_TABLE_LOCAL,
              protocol: route.protocol,
              type: 'local',
            });
            if (!vips.includes(route.address)) removed.push(route.address);
          } catch (err) {
            if (!isErrno(err, 'ESRCH')) errors.set(route.address, (err as Error).message);
          }
        }
        for (const address of plan.add) {
          try {
            await rtnl.addHostRoute(
              { address, table: RT_TABLE_LOCAL, protocol: settings.protocol, type: 'local' },
              settings.interface,
            );
            added.push(address);
          } catch (err) {
            errors.set(address, (err as Error).message);
          }
        }
      } catch (err) {
        errors.set('', (err as Error).message);
      }
      return { added, removed, alreadyLocal, errors };
    },
  };
}
