/**
 * The speaker's lifecycle: opening what the process needs (rtnetlink, the link monitor, one raw
 * socket per interface, family and unicast source, shared by the instances on it and dispatched
 * by VRID, because every raw IPPROTO_VRRP socket on a link sees every advert anyway), preparing
 * and starting units (an instance alone, or a sync group with its members), stopping them, and
 * closing everything. start() and stop() of the speaker are here; reload is speaker-reload.ts.
 */
import type { Config, VrrpInstanceConfig } from '../config/types.js';
import { IpvsdError } from '../errors.js';
import { createLinkMonitor } from '../sys/link-monitor.js';
import { createRtnetlink } from '../sys/rtnetlink.js';
import { VRRP_GROUP_INET, VRRP_GROUP_INET6 } from '../sys/vrrp-socket.js';
import { advertProblem } from './codec.js';
import { emptyDropCounts } from './drop-reasons.js';
import { instanceFamily, ownAdvert, primaryAddress, vipTargets } from './instance.js';
import { type VrrpUnit, vrrpUnits } from './reload-plan.js';
import { commitGroup, deliver, openEntrySocket } from './speaker-dispatch.js';
import { ensureVmac, leaveMasterExtras, removeVmac } from './speaker-extras.js';
import {
  closeEntrySocket,
  guarded,
  type Runtime,
  type SocketEntry,
  type SpeakerState,
  takeoverStep,
} from './speaker-state.js';
import {
  closeTrackFiles,
  onLinkChange,
  refreshTracking,
  syncLinks,
  syncScripts,
  syncTrackFiles,
} from './speaker-trackers.js';
import { createInstanceState, instanceParamsFromConfig } from './state-machine.js';
import { createSyncGroupState, stepGroup } from './sync-group.js';
import { createVrrpTimers, timerEvent } from './timers.js';

/** Opens what the process needs once there are instances (also on a reload that adds the first). */
export function ensureKernelHandles(s: SpeakerState): void {
  const { env } = s;
  if (s.rtnl === null) {
    s.rtnl = env.rtnetlink ?? null;
    if (s.rtnl === null && s.config.vrrpInstances.length > 0) {
      s.rtnl = createRtnetlink();
      s.ownRtnl = true;
    }
    // The takeover's address socket, opened now rather than on the takeover's path.
    s.rtnl?.addAddressesAtOnce?.([]);
  }
  if (s.links === null) {
    s.links = env.links ?? null;
    if (s.links === null && s.config.vrrpInstances.length > 0) {
      s.links = createLinkMonitor({
        onError: (error) => env.logger.warn({ err: error }, 'link monitor error'),
      });
      s.ownLinks = true;
    }
    if (s.links !== null) {
      s.stopLinkListener = s.links.onChange((state) =>
        guarded(s, 'link change', () => onLinkChange(s, state)),
      );
    }
  }
}

async function prepare(
  s: SpeakerState,
  instance: VrrpInstanceConfig,
  groupOf: Map<string, string>,
): Promise<void> {
  const { env, rtnl, links } = s;
  if (rtnl === null) return;
  const family = instanceFamily(instance);
  const log = env.logger.child({ instance: instance.name });
  for (const { ifname, cidr } of vipTargets(instance)) {
    try {
      if (await rtnl.ensureNoAddress(ifname, cidr)) {
        log.info({ address: cidr, interface: ifname }, 'stale virtual address removed');
      }
    } catch (error) {
      // Another interface (a `dev`, the VMAC) may not exist yet: nothing stale on it then.
      if (ifname === instance.interface) throw error;
    }
  }
  // What an earlier run left while master: its routes and rules go (as keepalived at start).
  await leaveMasterExtras(s, { config: instance, log });
  const primary = primaryAddress(instance, family, await rtnl.listAddresses(instance.interface));
  if (primary === null) {
    throw new IpvsdError(
      'IPVSD_ERR_USAGE',
      `VRRP instance ${instance.name}: interface ${instance.interface} has no ${family === 'inet' ? 'IPv4' : 'IPv6 link-local'} address to send adverts from`,
    );
  }
  const group = family === 'inet' ? VRRP_GROUP_INET : VRRP_GROUP_INET6;
  const problem = advertProblem(ownAdvert(instance, instance.priority), {
    srcAddress: primary,
    dstAddress: group,
  });
  if (problem !== null) {
    throw new IpvsdError('IPVSD_ERR_CONFIG_INVALID', `VRRP instance ${instance.name}: ${problem}`);
  }
  await ensureVmac(s, instance, family);
  // use_vmac: the socket lives on the VMAC. Adverts leave with its MAC, and a peer's adverts
  // (sent from the same virtual MAC) are handed by the kernel's macvlan to the VMAC only, never
  // to the base (drivers/net/macvlan.c, multicast from a source MAC of a local macvlan). Its
  // source is pinned to the base's address: the VMAC has none, and when master holds the VIPs.
  const onVmac = instance.useVmac !== undefined && instance.vmacXmitBase !== true;
  const ifname = onVmac ? (instance.useVmac as string) : instance.interface;
  const source = onVmac ? (instance.unicastSrcIp ?? primary) : instance.unicastSrcIp;
  const key = `${ifname}|${family}|${source ?? ''}|${instance.mcastGroup ?? ''}`;
  let entry = s.sockets.get(key);
  if (entry === undefined) {
    const linkState = links === null ? undefined : await links.watch(ifname);
    if (linkState !== undefined && !s.currentLinks.has(ifname)) {
      s.currentLinks.set(ifname, linkState);
    }
    const created: SocketEntry = {
      key,
      socket: null,
      family,
      ifname,
      sourceAddress: source,
      group: instance.mcastGroup ?? null,
      ifindex: linkState?.ifindex ?? null,
      instances: [],
    };
    created.socket = openEntrySocket(s, created);
    s.sockets.set(key, created);
    entry = created;
  }
  const name = instance.name;
  const rt: Runtime = {
    config: instance,
    log,
    family,
    primary,
    group: groupOf.get(name) ?? null,
    entry,
    timers: createVrrpTimers(
      { now: env.clock, setTimeout: env.setTimer, clearTimeout: env.clearTimer },
      (kind, now) =>
        guarded(s, 'timer', () => {
          // Before declaring the master down, read the adverts the kernel already holds: libuv
          // runs expired timers before it polls, so after a stall of the event loop an advert
          // that arrived in time would otherwise lose to the timer. One system call when the
          // queue is empty. A drained advert re-arms the timer from its arrival, which makes
          // this expiry stale (ignored) unless that deadline is past too.
          if (kind === 'master_down') {
            takeoverStep(s, 'master_down_expired', name);
            s.runtimes.get(name)?.entry.socket?.receivePending?.();
          }
          deliver(s, name, timerEvent(kind), now);
        }),
    ),
    garpTimers: new Set(),
    epoch: 0,
    vipWork: Promise.resolve(),
    transitions: 0,
    sent: 0,
    received: 0,
    dropped: emptyDropCounts(),
    lastSendError: null,
  };
  entry.instances.push(rt);
  s.runtimes.set(name, rt);
  if (rt.group === null)
    s.standalone.set(name, createInstanceState(instanceParamsFromConfig(instance, primary)));
}

function groupOfConfig(cfg: Config): Map<string, string> {
  const groupOf = new Map<string, string>();
  for (const g of cfg.vrrpSyncGroups) for (const member of g.instances) groupOf.set(member, g.name);
  return groupOf;
}

/** Creates the runtimes of `units` (not yet started). Throws on the first one that cannot be. */
export async function prepareUnits(s: SpeakerState, units: readonly VrrpUnit[]): Promise<void> {
  const groupOf = groupOfConfig(s.config);
  const instances = new Map(s.config.vrrpInstances.map((i) => [i.name, i]));
  for (const unit of units) {
    for (const member of unit.members) {
      const instance = instances.get(member);
      if (instance !== undefined) await prepare(s, instance, groupOf);
    }
    if (unit.kind === 'group') {
      const members = unit.members
        .map((member) => s.runtimes.get(member))
        .filter((rt): rt is Runtime => rt !== undefined)
        .map((rt) => createInstanceState(instanceParamsFromConfig(rt.config, rt.primary)));
      s.groups.set(unit.name, createSyncGroupState(unit.name, members));
    }
  }
}

export function startUnit(s: SpeakerState, unit: VrrpUnit): void {
  // Trackers first, so an instance whose interface is down starts in FAULT.
  const first = unit.members[0];
  if (first !== undefined) guarded(s, 'tracking', () => refreshTracking(s, first));
  if (unit.kind === 'group') {
    const group = s.groups.get(unit.name);
    if (group !== undefined) {
      guarded(s, 'startup', () =>
        commitGroup(s, group, stepGroup(group, { type: 'startup' }, s.env.clock())),
      );
    }
  } else {
    guarded(s, 'startup', () => deliver(s, unit.name, { type: 'startup' }));
  }
}

/** Shuts a unit down (priority 0 if master, VIPs removed) and forgets it. */
export async function stopUnit(s: SpeakerState, unit: VrrpUnit): Promise<void> {
  if (unit.kind === 'group') {
    const group = s.groups.get(unit.name);
    if (group !== undefined) {
      guarded(s, 'shutdown', () =>
        commitGroup(s, group, stepGroup(group, { type: 'shutdown' }, s.env.clock())),
      );
    }
    s.groups.delete(unit.name);
  } else {
    guarded(s, 'shutdown', () => deliver(s, unit.name, { type: 'shutdown' }));
    s.standalone.delete(unit.name);
  }
  const work: Promise<void>[] = [];
  for (const member of unit.members) {
    const rt = s.runtimes.get(member);
    if (rt === undefined) continue;
    work.push(rt.vipWork.then(() => removeVmac(s, rt.config)));
    releaseRuntime(s, rt);
  }
  await Promise.all(work);
}

/** Forgets an instance: its timers, and its socket if no other instance shares it. */
export function releaseRuntime(s: SpeakerState, rt: Runtime): void {
  rt.timers.cancelAll();
  for (const handle of rt.garpTimers) s.env.clearTimer(handle);
  rt.garpTimers.clear();
  if (s.runtimes.get(rt.config.name) === rt) s.runtimes.delete(rt.config.name);
  const index = rt.entry.instances.indexOf(rt);
  if (index !== -1) rt.entry.instances.splice(index, 1);
  if (rt.entry.instances.length === 0) {
    closeEntrySocket(s, rt.entry);
    s.sockets.delete(rt.entry.key);
  }
}

function closeAll(s: SpeakerState): void {
  for (const script of s.scripts.values()) script.runner.stop();
  s.scripts.clear();
  closeTrackFiles(s);
  s.stopLinkListener?.();
  s.stopLinkListener = null;
  for (const rt of s.runtimes.values()) {
    rt.timers.cancelAll();
    for (const handle of rt.garpTimers) s.env.clearTimer(handle);
    rt.garpTimers.clear();
  }
  for (const entry of s.sockets.values()) closeEntrySocket(s, entry);
  if (s.env.ownRtExtras) s.env.rtExtras.close();
  if (s.ownRtnl) s.rtnl?.close();
  if (s.ownLinks) s.links?.close();
}

export async function startSpeaker(s: SpeakerState): Promise<void> {
  if (s.phase !== 'new') throw new IpvsdError('IPVSD_ERR_USAGE', 'VRRP speaker already started');
  s.phase = 'starting';
  const units = vrrpUnits(s.config);
  try {
    ensureKernelHandles(s);
    await prepareUnits(s, units);
    await syncLinks(s);
  } catch (error) {
    s.phase = 'stopped';
    closeAll(s);
    throw error;
  }
  s.phase = 'running';
  syncScripts(s);
  syncTrackFiles(s, true);
  for (const unit of units) startUnit(s, unit);
}

export async function stopSpeaker(s: SpeakerState): Promise<void> {
  await s.reloads.catch(() => undefined);
  if (s.phase !== 'running') {
    if (s.phase === 'new') s.phase = 'stopped';
    return;
  }
  s.phase = 'stopping';
  for (const script of s.scripts.values()) script.runner.stop();
  for (const group of s.groups.values()) {
    guarded(s, 'shutdown', () =>
      commitGroup(s, group, stepGroup(group, { type: 'shutdown' }, s.env.clock())),
    );
  }
  for (const name of s.standalone.keys())
    guarded(s, 'shutdown', () => deliver(s, name, { type: 'shutdown' }));
  await Promise.all([...s.runtimes.values()].map((rt) => rt.vipWork.then(() => removeVmac(s, rt.config))));
  s.phase = 'stopped';
  closeAll(s);
}
