/**
 * What a reload does to the VRRP side, decided from the old and the new configuration alone
 * (pure). The unit is what moves as one: a sync group, or an instance outside any group.
 *
 * - kept: the same unit, every member with the same identity on the wire (interface, VRID,
 *   version, address family, unicast source, owner or not). It keeps its state and timers; the
 *   members whose other settings changed (priority, VIPs, advert interval, preemption, peers,
 *   authentication, trackers, notify) are updated in place, so an unchanged instance neither
 *   re-elects nor flaps its VIPs.
 * - restarted: anything else that exists on both sides: stopped (priority 0, VIPs removed) and
 *   started afresh. Changing what identifies the instance on the wire is a new router as far as
 *   its peers can tell, and moving instances between groups changes who decides together.
 * - removed / added: on one side only.
 */
import type { Config, VrrpInstanceConfig } from '../config/types.js';
import { instanceFamily } from './instance.js';
import { VRRP_PRIO_OWNER } from './state-machine.js';

/** `group:NAME` or `instance:NAME`. */
export type UnitKey = string;

export interface VrrpUnit {
  readonly key: UnitKey;
  readonly kind: 'group' | 'instance';
  readonly name: string;
  /** Member instance names in configuration order (one for a lone instance). */
  readonly members: readonly string[];
}

export interface ReloadPlan {
  readonly kept: readonly VrrpUnit[];
  /** Instances of kept units whose settings changed (updated in place). */
  readonly updated: readonly string[];
  /** Units stopped, in the old configuration's terms (restarted ones included). */
  readonly stopped: readonly VrrpUnit[];
  /** Units started, in the new configuration's terms (restarted ones included). */
  readonly started: readonly VrrpUnit[];
  /** Scripts whose definition changed (their runner restarts; a changed command resets the verdict). */
  readonly changedScripts: readonly string[];
}

export function vrrpUnits(config: Config): VrrpUnit[] {
  const grouped = new Set<string>();
  const units: VrrpUnit[] = [];
  for (const g of config.vrrpSyncGroups) {
    for (const m of g.instances) grouped.add(m);
    units.push({ key: `group:${g.name}`, kind: 'group', name: g.name, members: [...g.instances] });
  }
  for (const i of config.vrrpInstances) {
    if (!grouped.has(i.name)) {
      units.push({ key: `instance:${i.name}`, kind: 'instance', name: i.name, members: [i.name] });
    }
  }
  return units;
}

/** What identifies an instance to its peers and its socket: a change here is a restart. */
export function instanceIdentity(c: VrrpInstanceConfig): string {
  return JSON.stringify([
    c.interface,
    c.virtualRouterId,
    c.version,
    instanceFamily(c),
    c.unicastSrcIp,
    c.priority === VRRP_PRIO_OWNER,
    c.useVmac ?? null,
    c.vmacXmitBase ?? false,
    c.mcastGroup ?? null,
  ]);
}

/** The settings of an instance, without where they were written. */
export function instanceSettings(c: VrrpInstanceConfig): string {
  const { source: _source, ...rest } = c;
  return JSON.stringify(rest);
}

export function planReload(previous: Config, next: Config): ReloadPlan {
  const oldUnits = new Map(vrrpUnits(previous).map((u) => [u.key, u]));
  const newUnits = new Map(vrrpUnits(next).map((u) => [u.key, u]));
  const oldInstances = new Map(previous.vrrpInstances.map((i) => [i.name, i]));
  const newInstances = new Map(next.vrrpInstances.map((i) => [i.name, i]));

  const kept: VrrpUnit[] = [];
  const updated: string[] = [];
  const stopped: VrrpUnit[] = [];
  const started: VrrpUnit[] = [];

  for (const [key, unit] of oldUnits) {
    const fresh = newUnits.get(key);
    const same =
      fresh !== undefined &&
      fresh.members.length === unit.members.length &&
      fresh.members.every((m, i) => {
        const a = oldInstances.get(unit.members[i] ?? '');
        const b = newInstances.get(m);
        return (
          m === unit.members[i] &&
          a !== undefined &&
          b !== undefined &&
          instanceIdentity(a) === instanceIdentity(b)
        );
      });
    if (same && fresh !== undefined) {
      kept.push(fresh);
      for (const m of fresh.members) {
        const a = oldInstances.get(m);
        const b = newInstances.get(m);
        if (a !== undefined && b !== undefined && instanceSettings(a) !== instanceSettings(b))
          updated.push(m);
      }
    } else {
      stopped.push(unit);
    }
  }
  const keptKeys = new Set(kept.map((u) => u.key));
  for (const [key, unit] of newUnits) if (!keptKeys.has(key)) started.push(unit);

  const oldScripts = new Map(previous.vrrpScripts.map((s) => [s.name, s]));
  const changedScripts = next.vrrpScripts
    .filter((s) => {
      const before = oldScripts.get(s.name);
      if (before === undefined) return false;
      const { source: _a, ...x } = before;
      const { source: _b, ...y } = s;
      return JSON.stringify(x) !== JSON.stringify(y);
    })
    .map((s) => s.name);

  return { kept, updated, stopped, started, changedScripts };
}
