/**
 * The VRRP speaker: every configured instance and sync group, wired to the world. The decisions
 * are the pure state machine's (state-machine.ts, sync-group.ts); this module feeds it received
 * adverts and timer expiries, and performs what it asks for: adverts out, VIPs added or removed
 * through rtnetlink, gratuitous ARP / unsolicited NA bursts, notify scripts. Instances on the same
 * interface and family share one raw socket (dispatched by VRID), because every raw IPPROTO_VRRP
 * socket on a link sees every advert anyway.
 *
 * Ordering: the steps of the machine run synchronously, in the order events arrive; the VIP work
 * they ask for is asynchronous (netlink round trips), so each instance queues it, and an add never
 * overtakes an earlier remove. The announcements of a takeover follow the VIPs being in place,
 * and a repeat burst is skipped if the instance left MASTER meanwhile. The optional transition hook
 * (the director's sync daemon switch) takes a place in the same queues: before the VIPs of a
 * takeover, after the VIPs of a demotion.
 *
 * Nothing here throws from a socket or timer callback (DESIGN §7): failures are logged and counted.
 */
import type { Config, VrrpInstanceConfig } from '../config/types.js';
import { IpvsdError } from '../errors.js';
import type { Family } from '../model/ipvs.js';
import { announceAddress } from '../sys/garp.js';
import { componentLogger, type Logger } from '../sys/logger.js';
import { createRtnetlink, type Rtnetlink } from '../sys/rtnetlink.js';
import {
  openVrrpSocket,
  VRRP_GROUP_INET,
  VRRP_GROUP_INET6,
  type VrrpPacket,
  type VrrpSocketOptions,
} from '../sys/vrrp-socket.js';
import { advertProblem, advertVrid, decodeAdvert, encodeAdvert } from './codec.js';
import { type DropReason, emptyDropCounts } from './drop-reasons.js';
import { expectedAdvert, instanceFamily, ownAdvert, primaryAddress, vipCidrs } from './instance.js';
import { createRunNotify, type RunNotify } from './notify.js';
import { createInstanceState, type InstanceState, instanceParamsFromConfig, step } from './state-machine.js';
import { createSyncGroupState, type SyncGroupState, type SyncGroupStep, stepGroup } from './sync-group.js';
import { createVrrpTimers, timerEvent, type VrrpTimers } from './timers.js';
import type { VrrpAction, VrrpEvent, VrrpState } from './types.js';

/** The part of a VRRP socket the speaker uses (tests inject an in-memory link). */
export interface SpeakerSocket {
  send(payload: Uint8Array, destination?: string): Error | undefined;
  close(): void;
}

export type OpenSpeakerSocket = (options: VrrpSocketOptions) => SpeakerSocket;

export type SpeakerRtnetlink = Pick<
  Rtnetlink,
  'ensureAddress' | 'ensureNoAddress' | 'listAddresses' | 'close'
>;

export interface GarpOptions {
  /** Announcements per VIP at once on becoming master. Default 5. */
  readonly count: number;
  /** Announcements per VIP in the second burst. Default 5; 0: none. */
  readonly repeatCount: number;
  /** Delay of the second burst. Default 2000 ms. */
  readonly repeatDelayMs: number;
}

export const DEFAULT_GARP: GarpOptions = { count: 5, repeatCount: 5, repeatDelayMs: 2000 };

export interface VrrpSpeakerDeps {
  readonly logger: Logger;
  /** Monotonic ms. Default performance.now(). */
  readonly now?: () => number;
  /** Default: createRtnetlink() (closed by stop()). */
  readonly rtnetlink?: SpeakerRtnetlink;
  /** Default: openVrrpSocket (the native raw socket). */
  readonly openSocket?: OpenSpeakerSocket;
  /** One announcement of `address` on `ifname`. Default: announceAddress (gratuitous ARP / NA). */
  readonly announce?: (ifname: string, address: string) => Error | undefined;
  /** Default: spawn without a shell, detached (notify.ts). */
  readonly runNotify?: RunNotify;
  readonly garp?: Partial<GarpOptions>;
  readonly setTimeout?: (callback: () => void, ms: number) => unknown;
  readonly clearTimeout?: (handle: unknown) => void;
  /**
   * Awaited in order with the VIP work of the instances concerned: a change to MASTER runs it
   * before their VIPs are added (and the gratuitous ARP sent), a change away from MASTER after
   * they are removed. The director switches the IPVS sync daemon here (DESIGN §6). A rejection is
   * logged and the VIP work goes on; the hook bounds its own time.
   */
  readonly transitionHook?: VrrpTransitionHook;
}

export type VrrpStatusState = VrrpState;

export interface VrrpInstanceStatus {
  readonly name: string;
  readonly state: VrrpStatusState;
  /** Effective priority. */
  readonly priority: number;
  readonly master_address: string | null;
  readonly transitions: number;
  readonly adverts: {
    readonly sent: number;
    readonly received: number;
    readonly dropped: Record<DropReason, number>;
  };
}

export interface VrrpSpeakerStatus {
  readonly instances: readonly VrrpInstanceStatus[];
  readonly sync_groups: readonly { readonly name: string; readonly state: VrrpStatusState }[];
}

export interface VrrpStateChange {
  readonly kind: 'instance' | 'group';
  readonly name: string;
  readonly previous: VrrpState;
  readonly state: VrrpState;
}

/**
 * Listeners run synchronously inside the step. A group's change to MASTER is reported before its
 * members add their VIPs; a change away from MASTER after they were told to remove them
 * (DESIGN §6: sync daemon master first on takeover, backup last on demotion).
 */
export type VrrpStateListener = (change: VrrpStateChange) => void;

export type VrrpTransitionHook = (change: VrrpStateChange) => Promise<void>;

export interface VrrpSpeaker {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): VrrpSpeakerStatus;
  /** Graceful handover of an instance or a sync group (priority 0, then BACKUP). */
  failover(name: string): void;
  /** Returns a function that removes the listener. */
  onStateChange(listener: VrrpStateListener): () => void;
}

interface SocketEntry {
  readonly key: string;
  socket: SpeakerSocket | null;
  readonly family: Family;
  readonly instances: Runtime[];
}

interface Runtime {
  readonly config: VrrpInstanceConfig;
  readonly log: Logger;
  readonly family: Family;
  readonly primary: string;
  readonly group: string | null;
  readonly entry: SocketEntry;
  readonly timers: VrrpTimers;
  readonly garpTimers: Set<unknown>;
  /** Bumped whenever the instance enters or leaves MASTER: a stale repeat burst checks it. */
  epoch: number;
  vipWork: Promise<void>;
  transitions: number;
  sent: number;
  received: number;
  readonly dropped: Record<DropReason, number>;
  lastSendError: string | null;
}

export function createVrrpSpeaker(config: Config, deps: VrrpSpeakerDeps): VrrpSpeaker {
  const logger = componentLogger(deps.logger, 'vrrp');
  const clock = deps.now ?? (() => performance.now());
  const setTimer = deps.setTimeout ?? ((cb: () => void, ms: number) => setTimeout(cb, ms));
  const clearTimer = deps.clearTimeout ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout));
  const openSocket: OpenSpeakerSocket = deps.openSocket ?? openVrrpSocket;
  const announce = deps.announce ?? ((ifname: string, address: string) => announceAddress(ifname, address));
  const runNotify = deps.runNotify ?? createRunNotify(logger);
  const garp: GarpOptions = { ...DEFAULT_GARP, ...deps.garp };

  const runtimes = new Map<string, Runtime>();
  const sockets = new Map<string, SocketEntry>();
  const standalone = new Map<string, InstanceState>();
  const groups = new Map<string, SyncGroupState>();
  const listeners = new Set<VrrpStateListener>();
  let rtnl: SpeakerRtnetlink | null = null;
  let ownRtnl = false;
  let phase: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';

  // -------------------------------------------------------------------------------------------
  // Stepping

  function emit(change: VrrpStateChange): void {
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        logger.error({ err: error, change }, 'vrrp state listener threw');
      }
    }
  }

  function stateOf(name: string): InstanceState | undefined {
    const rt = runtimes.get(name);
    if (rt === undefined) return undefined;
    if (rt.group === null) return standalone.get(name);
    return groups.get(rt.group)?.members.find((m) => m.params.name === name);
  }

  /** Queues the transition hook behind the VIP work of `rts` (all of it) and the work after it behind the hook. */
  function queueHook(rts: readonly Runtime[], change: VrrpStateChange): void {
    const hook = deps.transitionHook;
    if (hook === undefined || rts.length === 0) return;
    const done = Promise.all(rts.map((rt) => rt.vipWork))
      .then(() => hook(change))
      .catch((error: unknown) => logger.error({ err: error, change }, 'vrrp transition hook failed'));
    for (const rt of rts) rt.vipWork = done;
  }

  function commitMember(
    rt: Runtime,
    before: InstanceState,
    after: InstanceState,
    actions: readonly VrrpAction[],
  ) {
    const change: VrrpStateChange | null =
      before.state === after.state
        ? null
        : { kind: 'instance', name: rt.config.name, previous: before.state, state: after.state };
    if (change !== null && change.state === 'MASTER') queueHook([rt], change);
    if (before.state !== after.state) {
      rt.transitions += 1;
      rt.log.info(
        {
          from: before.state,
          to: after.state,
          priority: after.effectivePriority,
          master: after.master?.address,
        },
        'vrrp state changed',
      );
      emit({ kind: 'instance', name: rt.config.name, previous: before.state, state: after.state });
    }
    execute(rt, actions);
    if (change !== null && change.state !== 'MASTER') queueHook([rt], change);
  }

  function commitGroup(before: SyncGroupState, result: SyncGroupStep): void {
    const after = result.group;
    groups.set(after.name, after);
    const changed = before.state !== after.state;
    if (changed)
      logger.info({ group: after.name, from: before.state, to: after.state }, 'sync group state changed');
    const change: VrrpStateChange = {
      kind: 'group',
      name: after.name,
      previous: before.state,
      state: after.state,
    };
    const members = after.members
      .map((m) => runtimes.get(m.params.name))
      .filter((rt): rt is Runtime => rt !== undefined);
    if (changed && after.state === 'MASTER') {
      queueHook(members, change);
      emit(change);
    }
    after.members.forEach((member, i) => {
      const rt = runtimes.get(member.params.name);
      const prev = before.members[i];
      if (rt === undefined || prev === undefined) return;
      const actions = result.actions.find((a) => a.member === member.params.name)?.actions ?? [];
      commitMember(rt, prev, member, actions);
    });
    if (changed && after.state !== 'MASTER') {
      emit(change);
      queueHook(members, change);
    }
  }

  function deliver(name: string, event: VrrpEvent, now = clock()): void {
    if (phase !== 'running' && phase !== 'stopping') return;
    const rt = runtimes.get(name);
    if (rt === undefined) return;
    if (rt.group !== null) {
      const group = groups.get(rt.group);
      if (group === undefined) return;
      commitGroup(group, stepGroup(group, { type: 'member', member: name, event }, now));
      return;
    }
    const before = standalone.get(name);
    if (before === undefined) return;
    const result = step(before, event, now);
    standalone.set(name, result.state);
    commitMember(rt, before, result.state, result.actions);
  }

  function guarded(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      logger.error({ err: error }, `vrrp ${what} failed`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Actions

  function execute(rt: Runtime, actions: readonly VrrpAction[]): void {
    rt.timers.apply(actions);
    for (const action of actions) {
      switch (action.type) {
        case 'send_advert':
          sendAdvert(rt, action.priority);
          break;
        case 'become_master': {
          rt.epoch += 1;
          const epoch = rt.epoch;
          queueVipWork(rt, async () => {
            await addVips(rt);
            if (rt.epoch === epoch) announceBurst(rt, epoch, garp.count, true);
          });
          break;
        }
        case 'become_backup':
        case 'become_fault':
        case 'stop':
          rt.epoch += 1;
          queueVipWork(rt, () => removeVips(rt));
          break;
        case 'notify': {
          const key = action.state === 'MASTER' ? 'master' : action.state === 'BACKUP' ? 'backup' : 'fault';
          const argv = action.state === 'STOP' ? null : rt.config.notify[key];
          if (argv !== null && argv.length > 0) {
            guarded('notify', () =>
              runNotify({
                argv,
                kind: 'INSTANCE',
                name: rt.config.name,
                state: action.state,
                priority: action.priority,
              }),
            );
          }
          break;
        }
        case 'set_timer':
        case 'cancel_timer':
          break;
      }
    }
  }

  function sendAdvert(rt: Runtime, priority: number): void {
    const socket = rt.entry.socket;
    if (socket === null) return;
    const group = rt.family === 'inet' ? VRRP_GROUP_INET : VRRP_GROUP_INET6;
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
      const error = socket.send(encoded.bytes, dst === group ? undefined : dst);
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

  function queueVipWork(rt: Runtime, work: () => Promise<void>): void {
    rt.vipWork = rt.vipWork.then(work).catch((error: unknown) => {
      rt.log.error({ err: error }, 'vrrp virtual address change failed');
    });
  }

  async function addVips(rt: Runtime): Promise<void> {
    if (rtnl === null) return;
    for (const cidr of vipCidrs(rt.config)) {
      try {
        if (await rtnl.ensureAddress(rt.config.interface, cidr)) {
          rt.log.info({ address: cidr, interface: rt.config.interface }, 'virtual address added');
        }
      } catch (error) {
        rt.log.error({ err: error, address: cidr }, 'virtual address not added');
      }
    }
  }

  async function removeVips(rt: Runtime): Promise<void> {
    if (rtnl === null) return;
    for (const cidr of vipCidrs(rt.config)) {
      try {
        if (await rtnl.ensureNoAddress(rt.config.interface, cidr)) {
          rt.log.info({ address: cidr, interface: rt.config.interface }, 'virtual address removed');
        }
      } catch (error) {
        rt.log.error({ err: error, address: cidr }, 'virtual address not removed');
      }
    }
  }

  function announceBurst(rt: Runtime, epoch: number, count: number, first: boolean): void {
    let failed: Error | undefined;
    for (let i = 0; i < count; i++) {
      for (const vip of rt.config.virtualIpaddresses) {
        const error = announce(rt.config.interface, vip.address);
        if (error !== undefined) failed = error;
      }
    }
    if (failed !== undefined) rt.log.warn({ err: failed }, 'address announcement failed');
    if (first && garp.repeatCount > 0) {
      const handle = setTimer(() => {
        rt.garpTimers.delete(handle);
        if (rt.epoch === epoch && phase === 'running') {
          guarded('announcement', () => announceBurst(rt, epoch, garp.repeatCount, false));
        }
      }, garp.repeatDelayMs);
      rt.garpTimers.add(handle);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  function onPacket(entry: SocketEntry, packet: VrrpPacket): void {
    const vrid = advertVrid(packet.payload);
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
      deliver(rt.config.name, { type: 'advert_received', advert });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  function closeAll(): void {
    for (const rt of runtimes.values()) {
      rt.timers.cancelAll();
      for (const handle of rt.garpTimers) clearTimer(handle);
      rt.garpTimers.clear();
    }
    for (const entry of sockets.values()) {
      entry.socket?.close();
      entry.socket = null;
    }
    if (ownRtnl) rtnl?.close();
  }

  async function prepare(instance: VrrpInstanceConfig, groupOf: Map<string, string>): Promise<void> {
    if (rtnl === null) return;
    const family = instanceFamily(instance);
    const log = logger.child({ instance: instance.name });
    for (const cidr of vipCidrs(instance)) {
      if (await rtnl.ensureNoAddress(instance.interface, cidr)) {
        log.info({ address: cidr, interface: instance.interface }, 'stale virtual address removed');
      }
    }
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
    const key = `${instance.interface}|${family}|${instance.unicastSrcIp ?? ''}`;
    let entry = sockets.get(key);
    if (entry === undefined) {
      const created: SocketEntry = { key, socket: null, family, instances: [] };
      created.socket = openSocket({
        family,
        ifname: instance.interface,
        ...(instance.unicastSrcIp !== null ? { sourceAddress: instance.unicastSrcIp } : {}),
        onPacket: (packet) => onPacket(created, packet),
        onError: (error) => logger.warn({ err: error, interface: instance.interface }, 'vrrp socket error'),
      });
      sockets.set(key, created);
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
      timers: createVrrpTimers({ now: clock, setTimeout: setTimer, clearTimeout: clearTimer }, (kind, now) =>
        guarded('timer', () => deliver(name, timerEvent(kind), now)),
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
    runtimes.set(name, rt);
    if (rt.group === null)
      standalone.set(name, createInstanceState(instanceParamsFromConfig(instance, primary)));
  }

  function forEachUnit(groupEvent: 'startup' | 'shutdown'): void {
    for (const group of groups.values()) {
      guarded(groupEvent, () => commitGroup(group, stepGroup(group, { type: groupEvent }, clock())));
    }
    for (const name of standalone.keys()) guarded(groupEvent, () => deliver(name, { type: groupEvent }));
  }

  return {
    async start() {
      if (phase !== 'new') throw new IpvsdError('IPVSD_ERR_USAGE', 'VRRP speaker already started');
      phase = 'starting';
      try {
        rtnl = deps.rtnetlink ?? null;
        if (rtnl === null && config.vrrpInstances.length > 0) {
          rtnl = createRtnetlink();
          ownRtnl = true;
        }
        const groupOf = new Map<string, string>();
        for (const g of config.vrrpSyncGroups) for (const member of g.instances) groupOf.set(member, g.name);
        for (const instance of config.vrrpInstances) await prepare(instance, groupOf);
        for (const g of config.vrrpSyncGroups) {
          const members = g.instances
            .map((member) => runtimes.get(member))
            .filter((rt): rt is Runtime => rt !== undefined)
            .map((rt) => createInstanceState(instanceParamsFromConfig(rt.config, rt.primary)));
          groups.set(g.name, createSyncGroupState(g.name, members));
        }
      } catch (error) {
        phase = 'stopped';
        closeAll();
        throw error;
      }
      phase = 'running';
      forEachUnit('startup');
    },

    async stop() {
      if (phase !== 'running') {
        if (phase === 'new') phase = 'stopped';
        return;
      }
      phase = 'stopping';
      forEachUnit('shutdown');
      await Promise.all([...runtimes.values()].map((rt) => rt.vipWork));
      phase = 'stopped';
      closeAll();
    },

    status() {
      const instances = config.vrrpInstances.map((instance): VrrpInstanceStatus => {
        const rt = runtimes.get(instance.name);
        const s = stateOf(instance.name);
        return {
          name: instance.name,
          state: s?.state ?? 'INIT',
          priority: s?.effectivePriority ?? instance.priority,
          master_address: s?.master?.address ?? null,
          transitions: rt?.transitions ?? 0,
          adverts: {
            sent: rt?.sent ?? 0,
            received: rt?.received ?? 0,
            dropped: { ...(rt?.dropped ?? emptyDropCounts()) },
          },
        };
      });
      const syncGroups = config.vrrpSyncGroups.map((g) => ({
        name: g.name,
        state: groups.get(g.name)?.state ?? ('INIT' as const),
      }));
      return { instances, sync_groups: syncGroups };
    },

    failover(name) {
      if (phase !== 'running') throw new IpvsdError('IPVSD_ERR_USAGE', 'VRRP speaker is not running');
      const group = groups.get(name);
      if (group !== undefined) {
        commitGroup(group, stepGroup(group, { type: 'force_backup' }, clock()));
        return;
      }
      if (!runtimes.has(name)) {
        throw new IpvsdError('IPVSD_ERR_NOT_FOUND', `no VRRP instance or sync group named ${name}`);
      }
      deliver(name, { type: 'force_backup' });
    },

    onStateChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
