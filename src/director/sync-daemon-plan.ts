/**
 * Which kernel IPVS connection-sync daemon should run, given the VRRP state ipvsd follows, and the
 * kernel calls that get there from what runs now. Pure: the follower (./vrrp-follower.ts) reads the
 * kernel, asks here, and performs the steps.
 *
 * The rule is keepalived's lvs_sync_daemon: the master daemon (it sends this node's connection
 * entries) runs while the followed sync group or instance is MASTER, the backup daemon (it receives
 * the master's) in every other state, before the first election included, so a node that takes over
 * already holds the connections its peer had. Only one of the two runs at a time: on a switch the
 * other state's daemon is stopped first, then the wanted one started.
 *
 * Also here: which interfaces are "server side" (where the real servers' replies come in), because
 * a stop that removes the services must first turn forwarding off there (DESIGN §6).
 */
import type { Config, SyncDaemonConfig, VrrpInstanceConfig } from '../config/types.js';
import type { SyncDaemon, SyncDaemonCommand } from '../ipvs/backend.js';
import { addressToBytes } from '../model/address.js';
import type { Family } from '../model/ipvs.js';

export type FollowedState = 'MASTER' | 'BACKUP' | 'FAULT' | 'INIT';

/** The daemon that should run while the followed group/instance is in `state`. */
export function desiredSyncDaemon(sync: SyncDaemonConfig, state: FollowedState): SyncDaemon {
  return { state: state === 'MASTER' ? 'master' : 'backup', interface: sync.interface, syncId: sync.syncId };
}

export type SyncDaemonStep = SyncDaemonCommand;

const same = (a: SyncDaemon, b: SyncDaemon): boolean =>
  a.state === b.state && a.interface === b.interface && a.syncId === b.syncId;

/**
 * Kernel steps from `running` to `desired` (null: none at all). Stops come first: the kernel allows
 * one daemon per state, and a daemon with other settings (a reload changed the interface or sync
 * id, or an earlier run left it) is restarted rather than kept.
 */
export function planSyncDaemons(
  running: readonly SyncDaemon[],
  desired: SyncDaemon | null,
): SyncDaemonStep[] {
  const steps: SyncDaemonStep[] = [];
  let keep = false;
  // Stop the other state's daemon before the wanted one starts (keepalived's order).
  const ordered = [...running].sort(
    (a, b) => (a.state === desired?.state ? 1 : 0) - (b.state === desired?.state ? 1 : 0),
  );
  for (const d of ordered) {
    if (desired !== null && same(d, desired)) keep = true;
    else steps.push({ op: 'stop', state: d.state });
  }
  if (desired !== null && !keep) steps.push({ op: 'start', daemon: desired });
  return steps;
}

/** The VRRP state of `follow` (a sync group or an instance) in a speaker's status; INIT when unknown. */
export function followedState(
  status: {
    readonly instances: readonly { readonly name: string; readonly state: FollowedState }[];
    readonly sync_groups: readonly { readonly name: string; readonly state: FollowedState }[];
  } | null,
  follow: string,
): FollowedState {
  if (status === null) return 'INIT';
  return (
    status.sync_groups.find((g) => g.name === follow)?.state ??
    status.instances.find((i) => i.name === follow)?.state ??
    'INIT'
  );
}

/** Is `address` inside `prefix/length` (same family)? */
export function inPrefix(address: string, prefix: string, length: number): boolean {
  const a = addressToBytes(address);
  const p = addressToBytes(prefix);
  if (a === null || p === null || a.length !== p.length) return false;
  const bits = Math.max(0, Math.min(length, a.length * 8));
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((a[i / 8] ?? 0) & mask) !== ((p[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

export interface ServerSide {
  /** Interfaces whose forwarding a stop that removes the services turns off, each with its families. */
  readonly interfaces: readonly { readonly ifname: string; readonly families: readonly Family[] }[];
  /**
   * How they were found: `gateway` when a VIP prefix holds real servers (the server-side VIP is
   * their default gateway in NAT mode), `members` when none does and every member's interface is
   * taken (safe: the node is leaving), `none` when there is no VRRP instance to go by.
   */
  readonly basis: 'gateway' | 'members' | 'none';
}

/**
 * The server-side interfaces. Candidates are the members of the followed sync group (or the
 * followed instance); without a sync daemon, every VRRP instance. The server-side instance is the
 * one whose VIP prefix contains a real server or sorry server: NAT mode makes that VIP the real
 * servers' gateway, so their replies arrive on its interface.
 */
export function serverSideInterfaces(config: Config): ServerSide {
  const byName = new Map(config.vrrpInstances.map((i) => [i.name, i]));
  const follow = config.director.syncDaemon?.follow;
  let candidates: VrrpInstanceConfig[] = config.vrrpInstances.slice();
  if (follow !== undefined) {
    const group = config.vrrpSyncGroups.find((g) => g.name === follow);
    const names = group ? group.instances : [follow];
    candidates = names.map((n) => byName.get(n)).filter((i): i is VrrpInstanceConfig => i !== undefined);
  }
  if (candidates.length === 0) return { interfaces: [], basis: 'none' };
  const backends: string[] = [];
  for (const vs of config.virtualServers) {
    for (const rs of vs.realServers) backends.push(rs.address);
    if (vs.sorryServer) backends.push(vs.sorryServer.address);
  }
  const found = new Map<string, Set<Family>>();
  for (const instance of candidates) {
    for (const vip of instance.virtualIpaddresses) {
      for (const address of backends) {
        if (!inPrefix(address, vip.address, vip.prefixLength)) continue;
        const families = found.get(instance.interface) ?? new Set<Family>();
        families.add(vip.family);
        found.set(instance.interface, families);
      }
    }
  }
  if (found.size > 0) {
    return {
      interfaces: [...found].map(([ifname, families]) => ({ ifname, families: [...families].sort() })),
      basis: 'gateway',
    };
  }
  const all = new Map<string, Set<Family>>();
  for (const instance of candidates) {
    const families = all.get(instance.interface) ?? new Set<Family>();
    for (const vip of instance.virtualIpaddresses) families.add(vip.family);
    if (families.size === 0) families.add('inet');
    all.set(instance.interface, families);
  }
  return {
    interfaces: [...all].map(([ifname, families]) => ({ ifname, families: [...families].sort() })),
    basis: 'members',
  };
}
