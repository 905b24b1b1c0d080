/**
 * The speaker's dispatch: events in, actions out. deliver() steps an instance's state machine
 * (state-machine.ts), or its sync group's (sync-group.ts), with one event; the commit functions
 * store the result, perform its actions (adverts out, VIP work queued through speaker-vips.ts,
 * notify scripts) and tell the listeners. The receive side lives here too: a socket's packets are
 * dispatched by VRID to the instances sharing it, decoded, counted, and delivered.
 *
 * Time: a received advert is stepped with its arrival (the kernel's receive timestamp, turned into
 * the monotonic clock by receive-time.ts), so a backup's master-down timer runs from when the
 * advert arrived, not from when this event loop read it. An expired master-down timer first reads
 * what the instance's socket already holds (receivePending, see speaker-lifecycle.ts), because
 * libuv runs timers before it polls: after a stall, an advert that arrived in time must not lose
 * to the timer.
 *
 * A takeover is the latency-critical path: its adverts go out before any logging (afterTakeover).
 */

import type { NotifyScripts } from '../config/types.js';
import type { VrrpPacket } from '../sys/vrrp-socket.js';
import { VRRP_GROUP_INET, VRRP_GROUP_INET6 } from '../sys/vrrp-socket.js';
import { advertVrid, decodeAdvert, encodeAdvert } from './codec.js';
import { expectedAdvert, ownAdvert } from './instance.js';
import type { NotifyKind } from './notify.js';
import {
  afterTakeover,
  guarded,
  type Runtime,
  type SocketEntry,
  type SpeakerState,
  type Takeover,
  takeoverStep,
} from './speaker-state.js';
import type { SpeakerSocket, VrrpStateChange } from './speaker-types.js';
import { queueHook, queueTakeover, queueVipWork, removeVips } from './speaker-vips.js';
import { type InstanceState, step } from './state-machine.js';
import { type SyncGroupState, type SyncGroupStep, stepGroup } from './sync-group.js';
import type { NotifyState, VrrpAction, VrrpEvent } from './types.js';

export function emit(s: SpeakerState, change: VrrpStateChange): void {
  for (const listener of s.listeners) {
    try {
      listener(change);
    } catch (error) {
      s.env.logger.error({ err: error, change }, 'vrrp state listener threw');
    }
  }
}

/** Steps instance `name` with `event` (through its sync group if it has one) and commits the result. */
export function deliver(s: SpeakerState, name: string, event: VrrpEvent, now = s.env.clock()): void {
  if (s.phase === 'new' || s.phase === 'stopped') return;
  const rt = s.runtimes.get(name);
  if (rt === undefined) return;
  if (rt.group !== null) {
    const group = s.groups.get(rt.group);
    if (group === undefined) return;
    commitGroup(s, group, stepGroup(group, { type: 'member', member: name, event }, now));
    return;
  }
  const before = s.standalone.get(name);
  if (before === undefined) return;
  const result = step(before, event, now);
  s.standalone.set(name, result.state);
  commitMember(s, rt, before, result.state, result.actions);
}

/**
 * `takeovers` collects the members of a sync group that become master in one step, so their
 * VIPs go to the kernel together (commitGroup queues them); without it the instance's own
 * takeover is queued here. The actions run before the logging: the first advert of a takeover
 * leaves before any log line is written.
 */
function commitMember(
  s: SpeakerState,
  rt: Runtime,
  before: InstanceState,
  after: InstanceState,
  actions: readonly VrrpAction[],
  takeovers?: Takeover[],
): void {
  const change: VrrpStateChange | null =
    before.state === after.state
      ? null
      : { kind: 'instance', name: rt.config.name, previous: before.state, state: after.state };
  if (change !== null && change.state === 'MASTER') queueHook(s, [rt], change);
  const own: Takeover[] = [];
  execute(s, rt, actions, takeovers ?? own);
  if (own.length > 0) queueTakeover(s, own);
  if (before.state !== after.state) {
    rt.transitions += 1;
    const fields = {
      from: before.state,
      to: after.state,
      priority: after.effectivePriority,
      master: after.master?.address,
      ...(after.faults.length > 0 ? { faults: after.faults } : {}),
    };
    afterTakeover(s, after.state, () => rt.log.info(fields, 'vrrp state changed'));
    emit(s, { kind: 'instance', name: rt.config.name, previous: before.state, state: after.state });
  } else if (before.effectivePriority !== after.effectivePriority) {
    rt.log.info(
      { from: before.effectivePriority, to: after.effectivePriority, state: after.state },
      'vrrp priority changed',
    );
  }
  if (change !== null && change.state !== 'MASTER') queueHook(s, [rt], change);
}

export function commitGroup(s: SpeakerState, before: SyncGroupState, result: SyncGroupStep): void {
  const after = result.group;
  s.groups.set(after.name, after);
  const changed = before.state !== after.state;
  const change: VrrpStateChange = {
    kind: 'group',
    name: after.name,
    previous: before.state,
    state: after.state,
  };
  const members = after.members
    .map((m) => s.runtimes.get(m.params.name))
    .filter((rt): rt is Runtime => rt !== undefined);
  if (changed && after.state === 'MASTER') {
    queueHook(s, members, change);
    emit(s, change);
  }
  const takeovers: Takeover[] = [];
  after.members.forEach((member, i) => {
    const rt = s.runtimes.get(member.params.name);
    const prev = before.members[i];
    if (rt === undefined || prev === undefined) return;
    const actions = result.actions.find((a) => a.member === member.params.name)?.actions ?? [];
    commitMember(s, rt, prev, member, actions, takeovers);
  });
  const groupConfig = s.config.vrrpSyncGroups.find((g) => g.name === after.name);
  for (const action of result.groupActions) {
    guarded(s, 'notify', () => runNotifies(s, groupConfig?.notify, 'GROUP', after.name, action.state, 0));
  }
  // Every member's VIPs in one go, after the hooks queued above.
  if (takeovers.length > 0) queueTakeover(s, takeovers);
  if (changed)
    afterTakeover(s, after.state, () =>
      s.env.logger.info(
        { group: after.name, from: before.state, to: after.state },
        'sync group state changed',
      ),
    );
  if (changed && after.state !== 'MASTER') {
    emit(s, change);
    queueHook(s, members, change);
  }
}

/** `takeovers`: where a become_master goes (the caller queues them, see commitMember). */
function execute(s: SpeakerState, rt: Runtime, actions: readonly VrrpAction[], takeovers: Takeover[]): void {
  rt.timers.apply(actions);
  for (const action of actions) {
    switch (action.type) {
      case 'send_advert':
        sendAdvert(rt, action.priority);
        break;
      case 'become_master':
        rt.epoch += 1;
        takeovers.push({ rt, epoch: rt.epoch });
        takeoverStep(s, 'became_master', rt.config.name);
        break;
      case 'become_backup':
      case 'become_fault':
      case 'stop':
        rt.epoch += 1;
        queueVipWork(rt, () => removeVips(s, rt));
        break;
      case 'notify':
        runNotifies(s, rt.config.notify, 'INSTANCE', rt.config.name, action.state, action.priority);
        break;
      case 'set_timer':
      case 'cancel_timer':
        break;
    }
  }
}

/**
 * The scripts of one state change, as keepalived's vrrp_notify.c send_instance_notifies /
 * send_group_notifies: the state's own script, then the generic `notify` with
 * `INSTANCE|GROUP NAME STATE PRIORITY` (a group's priority is 0). Spawning is a blocking fork and
 * exec: a master's scripts run once its VIPs are announced (as keepalived's), the others at once.
 */
export function runNotifies(
  s: SpeakerState,
  scripts: NotifyScripts | undefined,
  kind: NotifyKind,
  name: string,
  state: NotifyState,
  priority: number,
): void {
  if (scripts === undefined) return;
  const own =
    state === 'MASTER'
      ? scripts.master
      : state === 'BACKUP'
        ? scripts.backup
        : state === 'FAULT'
          ? scripts.fault
          : (scripts.stop ?? null);
  const list = [own, scripts.any ?? null].filter((a): a is readonly string[] => a !== null && a.length > 0);
  if (list.length === 0) return;
  afterTakeover(s, state === 'MASTER' ? 'MASTER' : 'BACKUP', () => {
    for (const argv of list)
      guarded(s, 'notify', () => s.env.runNotify({ argv, kind, name, state, priority }));
  });
}

function sendAdvert(rt: Runtime, priority: number): void {
  const socket = rt.entry.socket;
  if (socket === null) return;
  const group = rt.config.mcastGroup ?? (rt.family === 'inet' ? VRRP_GROUP_INET : VRRP_GROUP_INET6);
  const destinations = rt.config.unicastPeers.length > 0 ? rt.config.unicastPeers : [group];
  for (const dst of destinations) {
    const encoded = encodeAdvert(ownAdvert(rt.config, priority), {
      srcAddress: rt.primary,
      dstAddress: dst,
    });
    if (!encoded.ok) {
      rt.log.error({ detail: encoded.detail }, 'vrrp advert not encodable');
      continue;
    }
    const error = socket.send(encoded.bytes, dst);
    if (error === undefined) {
      rt.sent += 1;
      if (rt.lastSendError !== null) rt.log.info({ destination: dst }, 'vrrp advert send recovered');
      rt.lastSendError = null;
    } else if (rt.lastSendError !== error.message) {
      rt.lastSendError = error.message;
      rt.log.warn({ err: error, destination: dst }, 'vrrp advert send failed');
    }
  }
}

/** One received packet: to each instance on the socket whose VRID it carries, decoded and counted. */
function onPacket(s: SpeakerState, entry: SocketEntry, packet: VrrpPacket): void {
  const vrid = advertVrid(packet.payload);
  // Both clocks read once per packet: the step's now, and the arrival it stands for.
  const { now, arrival: receivedAt } = s.env.arrivalClock.read(packet.receivedAt);
  for (const rt of entry.instances) {
    if (vrid !== null && vrid !== rt.config.virtualRouterId) continue;
    // Our own multicast, looped back.
    if (packet.source === rt.primary) continue;
    const decoded = decodeAdvert(packet.payload, {
      family: entry.family,
      srcAddress: packet.source,
      dstAddress: packet.destination,
      ttlOrHopLimit: packet.ttl,
      expected: expectedAdvert(rt.config),
    });
    if (!decoded.ok) {
      rt.dropped[decoded.reason] += 1;
      rt.log.debug(
        { reason: decoded.reason, detail: decoded.detail, source: packet.source },
        'vrrp advert dropped',
      );
      continue;
    }
    rt.received += 1;
    const advert = { ...decoded.advert, srcAddress: packet.source };
    deliver(s, rt.config.name, { type: 'advert_received', advert, receivedAt }, now);
  }
}

export function openEntrySocket(s: SpeakerState, entry: SocketEntry): SpeakerSocket {
  return s.env.openSocket({
    family: entry.family,
    ifname: entry.ifname,
    ...(entry.sourceAddress !== null ? { sourceAddress: entry.sourceAddress } : {}),
    ...(entry.group !== null ? { group: entry.group } : {}),
    onPacket: (packet) => onPacket(s, entry, packet),
    onError: (error) => s.env.logger.warn({ err: error, interface: entry.ifname }, 'vrrp socket error'),
  });
}
