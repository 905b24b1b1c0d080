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
 * then reported as not announced. The VIP also stays a local address on the announce interface
 * (IPVS sees a packet only once it is delivered locally), whether announced or not, so withdrawn
 * VIPs keep serving the connections they have while the routers move new ones elsewhere.
 */
import { isErrno } from './netlink-errors.js';
import type { HostRoute, Rtnetlink } from './rtnetlink.js';

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

export interface AnnounceKernel {
  /**
   * Makes ipvsd's routes in the table exactly `announced`. With new settings (another table or
   * protocol after a reload) its routes under the old ones go first. Never rejects: what failed is
   * in `errors` (a failed table read puts its message under the key "").
   */
  syncRoutes(settings: AnnounceTableSettings, announced: readonly string[]): Promise<RouteSyncResult>;
  /** Adds each VIP (/32 or /128) to the interface unless it holds it; returns the errors by VIP. */
  ensureAddresses(ifname: string, addresses: readonly string[]): Promise<Map<string, string>>;
  /** Removes each VIP from the interface if it holds it; returns the errors by VIP. */
  removeAddresses(ifname: string, addresses: readonly string[]): Promise<Map<string, string>>;
}

export function createAnnounceKernel(rtnl: Rtnetlink): AnnounceKernel {
  let last: AnnounceTableSettings | null = null;

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

    async ensureAddresses(ifname, addresses) {
      const errors = new Map<string, string>();
      for (const address of addresses) {
        try {
          await rtnl.ensureAddress(ifname, address);
        } catch (err) {
          errors.set(address, (err as Error).message);
        }
      }
      return errors;
    },

    async removeAddresses(ifname, addresses) {
      const errors = new Map<string, string>();
      for (const address of addresses) {
        try {
          await rtnl.ensureNoAddress(ifname, address);
        } catch (err) {
          errors.set(address, (err as Error).message);
        }
      }
      return errors;
    },
  };
}
