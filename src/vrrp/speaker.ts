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
 * takeover, after the VIPs of a demotion. A takeover is the latency-critical path: its adverts go
 * out before any logging, the VIPs of every member of a sync group go to the kernel in one
 * datagram, and the gratuitous ARPs follow as soon as the kernel holds them (see takeover()).
 *
 * Time: a received advert is stepped with its arrival (the kernel's receive timestamp, turned into
 * the monotonic clock by receive-time.ts), so a backup's master-down timer runs from when the
 * advert arrived, not from when this event loop read it. An expired master-down timer first reads
 * what the instance's socket already holds (receivePending), because libuv runs timers before it
 * polls: after a stall, an advert that arrived in time must not lose to the timer.
 *
 * Trackers: every instance tracks its own interface and its `track_interfaces` (link state pushed
 * by the kernel, sys/link-monitor.ts) and its `track_scripts` (one runner per script,
 * script-runner.ts). Their verdicts become fault / fault_cleared / priority_changed events for
 * the state machine (tracking.ts does the arithmetic); a sync group's members are judged by the
 * union of their trackers, so a tracker on one member acts on the whole group.
 *
 * Reload (reload-plan.ts decides): unchanged instances are not touched, changed ones are
 * reconfigured in place (no re-election, no VIP flap), removed ones stop and new ones start.
 *
 * Nothing here throws from a socket or timer callback (DESIGN §7): failures are logged and counted.
 */
import type { Config, VrrpInstanceConfig, VrrpScriptConfig } from '../config/types.js';
import { IpvsdError } from '../errors.js';
import type { Family } from '../model/ipvs.js';
import { announceAddress } from '../sys/garp.js';
import { createLinkMonitor, type LinkMonitor, type LinkState } from '../sys/link-monitor.js';
import { componentLogger, type Logger } from '../sys/logger.js';
import { isErrno } from '../sys/netlink-errors.js';
import { createRtnetlink, type Rtnetlink } from '../sys/rtnetlink.js';
import { traceEnd, traceStep } from '../sys/takeover-trace.js';
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
import { createArrivalClock } from './receive-time.js';
import { planReload, type VrrpUnit, vrrpUnits } from './reload-plan.js';
import {
  createScriptRunner,
  type RunScript,
  type ScriptOutcome,
  type ScriptRunner,
} from './script-runner.js';
import {
  createInstanceState,
  effectivePriority,
  type InstanceState,
  instanceParamsFromConfig,
  step,
} from './state-machine.js';
import {
  createSyncGroupState,
  type SyncGroupState,
  type SyncGroupStep,
  stepGroup,
  syncFaultReason,
} from './sync-group.js';
import { createVrrpTimers, timerEvent, type VrrpTimers } from './timers.js';
import {
  faultChanges,
  INITIAL_SCRIPT_TRACK,
  recordScriptResult,
  type ScriptTrackState,
  type TrackerVerdict,
  trackEffect,
} from './tracking.js';
import type { VrrpAction, VrrpEvent, VrrpState } from './types.js';

/** The part of a VRRP socket the speaker uses (tests inject an in-memory link). */
export interface SpeakerSocket {
  send(payload: Uint8Array, destination?: string): Error | undefined;
  /** Delivers what is queued now through onPacket (VrrpSocket.receivePending); optional for fakes. */
  receivePending?(): void;
  close(): void;
}

export type OpenSpeakerSocket = (options: VrrpSocketOptions) => SpeakerSocket;

export type SpeakerRtnetlink = Pick<
  Rtnetlink,
  'ensureAddress' | 'ensureNoAddress' | 'listAddresses' | 'close'
> &
  /** Without it, a takeover adds its VIPs one ensureAddress at a time. */
  Partial<Pick<Rtnetlink, 'addAddressesAtOnce'>>;

/** Link state of interfaces, pushed (tests inject a fake). */
export type SpeakerLinks = Pick<LinkMonitor, 'watch' | 'unwatch' | 'onChange' | 'close'>;

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
  /**
   * Wall-clock ms (CLOCK_REALTIME), the clock of the kernel's packet timestamps. Default
   * Date.now(). Only used to turn a received advert's timestamp into an age (receive-time.ts).
   */
  readonly wallClock?: () => number;
  /** Default: createRtnetlink() (closed by stop()). */
  readonly rtnetlink?: SpeakerRtnetlink;
  /** Default: openVrrpSocket (the native raw socket). */
  readonly openSocket?: OpenSpeakerSocket;
  /** One announcement of `address` on `ifname`. Default: announceAddress (gratuitous ARP / NA). */
  readonly announce?: (ifname: string, address: string) => Error | undefined;
  /** Default: spawn without a shell, detached (notify.ts). */
  readonly runNotify?: RunNotify;
  /** Default: createLinkMonitor() (closed by stop()). */
  readonly links?: SpeakerLinks;
  /** Runs a tracked script once. Default: exec without a shell, killed at its timeout. */
  readonly runScript?: RunScript;
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
  /** Effective priority: the configured one moved by weighted tracked scripts. */
  readonly priority: number;
  /** The configured priority. */
  readonly base_priority: number;
  /** What holds the instance in FAULT (`interface eth1`, `script chk_web`, `sync group VG1`). */
  readonly faults: readonly string[];
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
  /**
   * Applies the VRRP part of a new (validated) configuration without a restart: unchanged
   * instances keep their state and timers; changed ones are updated in place (priority, VIPs,
   * advert interval, preemption, peers, authentication, trackers, notify: no re-election, no VIP
   * flap); instances whose interface, VRID, version, family, unicast source or owner-ness changed,
   * or that moved between sync groups, are stopped and started again; removed ones stop (priority
   * 0, VIPs removed); new ones start. Reloads run one at a time. Rejects (after applying
   * everything else) when some new instance could not start, naming them.
   */
  reload(config: Config): Promise<void>;
}

interface SocketEntry {
  readonly key: string;
  socket: SpeakerSocket | null;
  readonly family: Family;
  readonly ifname: string;
  readonly sourceAddress: string | null;
  /** The interface index the socket was bound to (null: unknown). A new index needs a new socket. */
  ifindex: number | null;
  readonly instances: Runtime[];
}

interface Runtime {
  config: VrrpInstanceConfig;
  readonly log: Logger;
  readonly family: Family;
  primary: string;
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

/** An instance that became master, with the epoch it became master in. */
interface Takeover {
  readonly rt: Runtime;
  readonly epoch: number;
}

interface ScriptRuntime {
  config: VrrpScriptConfig;
  track: ScriptTrackState;
  runner: ScriptRunner;
}

export function createVrrpSpeaker(initialConfig: Config, deps: VrrpSpeakerDeps): VrrpSpeaker {
  const logger = componentLogger(deps.logger, 'vrrp');
  const clock = deps.now ?? (() => performance.now());
  const arrivalClock = createArrivalClock(clock, deps.wallClock ?? Date.now);
  const setTimer = deps.setTimeout ?? ((cb: () => void, ms: number) => setTimeout(cb, ms));
  const clearTimer = deps.clearTimeout ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout));
  const openSocket: OpenSpeakerSocket = deps.openSocket ?? openVrrpSocket;
  const announce = deps.announce ?? ((ifname: string, address: string) => announceAddress(ifname, address));
  const runNotify = deps.runNotify ?? createRunNotify(logger);
  const garp: GarpOptions = { ...DEFAULT_GARP, ...deps.garp };

  let config = initialConfig;
  const runtimes = new Map<string, Runtime>();
  const sockets = new Map<string, SocketEntry>();
  const standalone = new Map<string, InstanceState>();
  const groups = new Map<string, SyncGroupState>();
  const listeners = new Set<VrrpStateListener>();
  const scripts = new Map<string, ScriptRuntime>();
  let rtnl: SpeakerRtnetlink | null = null;
  let ownRtnl = false;
  let links: SpeakerLinks | null = null;
  let ownLinks = false;
  let stopLinkListener: (() => void) | null = null;
  let phase: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  let reloads: Promise<void> = Promise.resolve();

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
      .then(() => {
        traceStep(`hook called ${change.name}`);
        return hook(change);
      })
      .catch((error: unknown) => logger.error({ err: error, change }, 'vrrp transition hook failed'));
    for (const rt of rts) rt.vipWork = done;
  }

  /**
   * `takeovers` collects the members of a sync group that become master in one step, so their
   * VIPs go to the kernel together (commitGroup queues them); without it the instance's own
   * takeover is queued here. The actions run before the logging: the first advert of a takeover
   * leaves before any log line is written.
   */
  function commitMember(
    rt: Runtime,
    before: InstanceState,
    after: InstanceState,
    actions: readonly VrrpAction[],
    takeovers?: Takeover[],
  ) {
    const change: VrrpStateChange | null =
      before.state === after.state
        ? null
        : { kind: 'instance', name: rt.config.name, previous: before.state, state: after.state };
    if (change !== null && change.state === 'MASTER') queueHook([rt], change);
    const own: Takeover[] = [];
    execute(rt, actions, takeovers ?? own);
    if (own.length > 0) queueTakeover(own);
    if (before.state !== after.state) {
      rt.transitions += 1;
      const fields = {
        from: before.state,
        to: after.state,
        priority: after.effectivePriority,
        master: after.master?.address,
        ...(after.faults.length > 0 ? { faults: after.faults } : {}),
      };
      afterTakeover(after.state, () => rt.log.info(fields, 'vrrp state changed'));
      emit({ kind: 'instance', name: rt.config.name, previous: before.state, state: after.state });
    } else if (before.effectivePriority !== after.effectivePriority) {
      rt.log.info(
        { from: before.effectivePriority, to: after.effectivePriority, state: after.state },
        'vrrp priority changed',
      );
    }
    if (change !== null && change.state !== 'MASTER') queueHook([rt], change);
  }

  function commitGroup(before: SyncGroupState, result: SyncGroupStep): void {
    const after = result.group;
    groups.set(after.name, after);
    const changed = before.state !== after.state;
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
      traceStep('hook queued, listeners told');
    }
    const takeovers: Takeover[] = [];
    after.members.forEach((member, i) => {
      const rt = runtimes.get(member.params.name);
      const prev = before.members[i];
      if (rt === undefined || prev === undefined) return;
      const actions = result.actions.find((a) => a.member === member.params.name)?.actions ?? [];
      commitMember(rt, prev, member, actions, takeovers);
    });
    // Every member's VIPs in one go, after the hooks queued above.
    traceStep('members committed');
    if (takeovers.length > 0) queueTakeover(takeovers);
    if (changed)
      afterTakeover(after.state, () =>
        logger.info({ group: after.name, from: before.state, to: after.state }, 'sync group state changed'),
      );
    if (changed && after.state !== 'MASTER') {
      emit(change);
      queueHook(members, change);
    }
  }

  function deliver(name: string, event: VrrpEvent, now = clock()): void {
    if (phase === 'new' || phase === 'stopped') return;
    const rt = runtimes.get(name);
    if (rt === undefined) return;
    if (rt.group !== null) {
      const group = groups.get(rt.group);
      if (group === undefined) return;
      const result = stepGroup(group, { type: 'member', member: name, event }, now);
      traceStep('group stepped');
      commitGroup(group, result);
      traceStep('group committed');
      return;
    }
    const before = standalone.get(name);
    if (before === undefined) return;
    const result = step(before, event, now);
    standalone.set(name, result.state);
    commitMember(rt, before, result.state, result.actions);
  }

  /**
   * A takeover's log lines (and its master notify scripts) wait until its sends are out: the sync
   * daemon switch, the VIPs and the first gratuitous ARPs run in the microtasks that follow the
   * step (nothing there waits for I/O when the kernel took the datagrams in the call). takeover()
   * writes them right after the first announcements, so they still come before the lines of the
   * kernel's replies; setImmediate is the backstop when no takeover follows. Formatting and
   * writing a line costs milliseconds on a slow CPU, spawning a script more; other transitions
   * log (and notify) at once.
   */
  let heldLines: (() => void)[] = [];
  function afterTakeover(state: VrrpState, write: () => void): void {
    if (state !== 'MASTER') {
      write();
      return;
    }
    if (heldLines.length === 0) setImmediate(writeHeldLines);
    heldLines.push(write);
  }
  function writeHeldLines(): void {
    const lines = heldLines;
    heldLines = [];
    for (const write of lines) guarded('log', write);
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

  /** `takeovers`: where a become_master goes (the caller queues them, see commitMember). */
  function execute(rt: Runtime, actions: readonly VrrpAction[], takeovers: Takeover[]): void {
    rt.timers.apply(actions);
    for (const action of actions) {
      switch (action.type) {
        case 'send_advert':
          sendAdvert(rt, action.priority);
          traceStep(`advert sent ${rt.config.name}`);
          break;
        case 'become_master':
          rt.epoch += 1;
          takeovers.push({ rt, epoch: rt.epoch });
          break;
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
            // Spawning is a blocking fork and exec: a master's script runs once its VIPs are
            // announced (as keepalived's), the others at once.
            const state = action.state === 'MASTER' ? 'MASTER' : 'BACKUP';
            afterTakeover(state, () =>
              guarded('notify', () =>
                runNotify({
                  argv,
                  kind: 'INSTANCE',
                  name: rt.config.name,
                  state: action.state,
                  priority: action.priority,
                }),
              ),
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

  async function addCidrs(rt: Runtime, cidrs: readonly string[]): Promise<void> {
    if (rtnl === null) return;
    for (const cidr of cidrs) {
      try {
        if (await rtnl.ensureAddress(rt.config.interface, cidr)) {
          rt.log.info({ address: cidr, interface: rt.config.interface }, 'virtual address added');
        }
      } catch (error) {
        rt.log.error({ err: error, address: cidr }, 'virtual address not added');
      }
    }
  }

  async function removeCidrs(rt: Runtime, cidrs: readonly string[]): Promise<void> {
    if (rtnl === null) return;
    for (const cidr of cidrs) {
      try {
        if (await rtnl.ensureNoAddress(rt.config.interface, cidr)) {
          rt.log.info({ address: cidr, interface: rt.config.interface }, 'virtual address removed');
        }
      } catch (error) {
        // A vanished interface took its addresses with it.
        if (isErrno(error, 'ENODEV')) continue;
        rt.log.error({ err: error, address: cidr }, 'virtual address not removed');
      }
    }
  }

  const removeVips = (rt: Runtime) => removeCidrs(rt, vipCidrs(rt.config));

  /** Queues the VIP work of instances that became master together, behind their earlier work and hooks. */
  function queueTakeover(list: readonly Takeover[]): void {
    const rts = list.map((t) => t.rt);
    const done = Promise.all(rts.map((rt) => rt.vipWork))
      .then(() => takeover(list))
      .catch((error: unknown) => logger.error({ err: error }, 'vrrp takeover failed'));
    for (const rt of rts) rt.vipWork = done;
  }

  /**
   * The VIPs of every instance in `list` added, then announced. With addAddressesAtOnce and known
   * interface indexes all of them go to the kernel in one datagram; when the kernel has executed
   * it by the time the call returns (the usual case), the announcements go out at once and the
   * replies are read afterwards. Otherwise (no index, the datagram queued, no batch support) each
   * instance is announced once its VIPs are confirmed, as before. An address the batch could not
   * add is tried again through ensureAddress (EEXIST: checked, not an error); other failures are
   * logged as before. An instance that left MASTER meanwhile is not announced.
   */
  async function takeover(list: readonly Takeover[]): Promise<void> {
    traceStep('takeover started');
    const batchAdd = rtnl?.addAddressesAtOnce?.bind(rtnl);
    const batched: Takeover[] = [];
    const requests: { t: Takeover; cidr: string; ifindex: number }[] = [];
    const slow: Takeover[] = [];
    for (const t of list) {
      const ifindex = currentLinks.get(t.rt.config.interface)?.ifindex ?? t.rt.entry.ifindex;
      if (batchAdd === undefined || ifindex === null || ifindex === undefined) {
        slow.push(t);
        continue;
      }
      batched.push(t);
      for (const cidr of vipCidrs(t.rt.config)) requests.push({ t, cidr, ifindex });
    }
    let early = false;
    if (batchAdd !== undefined && requests.length > 0) {
      const { sent, done } = batchAdd(
        requests.map(({ t, cidr, ifindex }) => ({ ifname: t.rt.config.interface, ifindex, cidr })),
      );
      traceStep(`VIPs sent (in call: ${sent})`);
      // The kernel holds the addresses already: announce now, read the replies afterwards.
      if (sent) {
        early = true;
        announceTogether(batched);
        writeHeldLines();
      }
      const outcomes = await done;
      for (const [i, { t, cidr }] of requests.entries()) {
        const error = outcomes[i] ?? null;
        const rt = t.rt;
        if (error === null) {
          rt.log.info({ address: cidr, interface: rt.config.interface }, 'virtual address added');
        } else if (isErrno(error, 'EEXIST') || isErrno(error, 'ENODEV')) {
          // There already (checked there), or the interface came back under a new index.
          await addCidrs(rt, [cidr]);
        } else {
          rt.log.error({ err: error, address: cidr }, 'virtual address not added');
        }
      }
    }
    for (const t of slow) await addCidrs(t.rt, vipCidrs(t.rt.config));
    if (!early) announceTogether(list);
    else announceTogether(slow);
    writeHeldLines();
  }

  /**
   * The first burst of every instance in `list` still master in its epoch, round by round (each
   * VIP's first announcement before any VIP's second), then each one's repeat burst scheduled.
   */
  function announceTogether(list: readonly Takeover[]): void {
    const live = list.filter((t) => t.rt.epoch === t.epoch);
    const failed = new Map<Runtime, Error>();
    for (let i = 0; i < garp.count; i++) {
      for (const { rt } of live) {
        for (const vip of rt.config.virtualIpaddresses) {
          const error = announce(rt.config.interface, vip.address);
          if (error !== undefined) failed.set(rt, error);
        }
      }
      // After every VIP's first one: the trace's write must not hold up the second VIP's.
      if (i === 0) traceEnd('first announcements sent');
    }
    for (const [rt, error] of failed) rt.log.warn({ err: error }, 'address announcement failed');
    for (const { rt, epoch } of live) scheduleRepeat(rt, epoch);
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
    if (first) scheduleRepeat(rt, epoch);
  }

  /** The second burst, `repeatDelayMs` later, if the instance is still master in this epoch. */
  function scheduleRepeat(rt: Runtime, epoch: number): void {
    if (garp.repeatCount <= 0) return;
    const handle = setTimer(() => {
      rt.garpTimers.delete(handle);
      if (rt.epoch === epoch && phase === 'running') {
        guarded('announcement', () => announceBurst(rt, epoch, garp.repeatCount, false));
      }
    }, garp.repeatDelayMs);
    rt.garpTimers.add(handle);
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  function onPacket(entry: SocketEntry, packet: VrrpPacket): void {
    const vrid = advertVrid(packet.payload);
    // Both clocks read once per packet: the step's now, and the arrival it stands for.
    const { now, arrival: receivedAt } = arrivalClock.read(packet.receivedAt);
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
      deliver(rt.config.name, { type: 'advert_received', advert, receivedAt }, now);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Trackers

  function linkUp(ifname: string): boolean {
    // Not (yet) known: do not fault on a guess.
    return links === null ? true : (currentLinks.get(ifname)?.up ?? true);
  }

  /** Link states as last reported by the monitor (watch() results and changes). */
  const currentLinks = new Map<string, LinkState>();

  /** The instance's own interface is usable: up, and our socket is bound to this incarnation. */
  function ownInterfaceUp(rt: Runtime): boolean {
    const link = currentLinks.get(rt.config.interface);
    if (link === undefined) return true;
    if (rt.entry.socket === null) return false;
    return link.up && (rt.entry.ifindex === null || rt.entry.ifindex === link.ifindex);
  }

  function trackersOf(rt: Runtime): TrackerVerdict[] {
    const out: TrackerVerdict[] = [{ kind: 'interface', name: rt.config.interface, up: ownInterfaceUp(rt) }];
    for (const ifname of rt.config.trackInterfaces) {
      if (ifname !== rt.config.interface) out.push({ kind: 'interface', name: ifname, up: linkUp(ifname) });
    }
    for (const name of rt.config.trackScripts) {
      const script = scripts.get(name);
      if (script === undefined) continue;
      out.push({ kind: 'script', name, weight: script.config.weight, verdict: script.track.verdict });
    }
    return out;
  }

  /** The members that move together with instance `name` (itself alone outside a group). */
  function unitMembers(name: string): Runtime[] {
    const rt = runtimes.get(name);
    if (rt === undefined) return [];
    if (rt.group === null) return [rt];
    const group = groups.get(rt.group);
    return (group?.members ?? [])
      .map((m) => runtimes.get(m.params.name))
      .filter((r): r is Runtime => r !== undefined);
  }

  /**
   * Brings the unit of `name` in line with its trackers: faults added first, then priorities,
   * then faults cleared (so an instance leaving FAULT starts its election at the new priority).
   */
  function refreshTracking(name: string): void {
    if (phase !== 'running' && phase !== 'starting') return;
    const members = unitMembers(name);
    if (members.length === 0) return;
    const effect = trackEffect(members.flatMap(trackersOf));
    const own = (rt: Runtime) => {
      const sync = rt.group === null ? null : syncFaultReason(rt.group);
      return (stateOf(rt.config.name)?.faults ?? []).filter((r) => r !== sync);
    };
    for (const rt of members) {
      for (const reason of faultChanges(own(rt), effect.faults).add) {
        rt.log.warn({ reason }, 'vrrp tracker failed');
        deliver(rt.config.name, { type: 'fault', reason });
      }
    }
    for (const rt of members) {
      const s = stateOf(rt.config.name);
      if (s === undefined) continue;
      const priority = effectivePriority(s.params.priority, effect.weight);
      if (priority !== s.effectivePriority) deliver(rt.config.name, { type: 'priority_changed', priority });
    }
    for (const rt of members) {
      for (const reason of faultChanges(own(rt), effect.faults).clear) {
        rt.log.info({ reason }, 'vrrp tracker recovered');
        deliver(rt.config.name, { type: 'fault_cleared', reason });
      }
    }
  }

  function refreshAllTracking(): void {
    const done = new Set<string>();
    for (const rt of runtimes.values()) {
      const unit = rt.group ?? rt.config.name;
      if (done.has(unit)) continue;
      done.add(unit);
      guarded('tracking', () => refreshTracking(rt.config.name));
    }
  }

  function onLinkChange(state: LinkState): void {
    if (!currentLinks.has(state.ifname)) return;
    const previous = currentLinks.get(state.ifname);
    currentLinks.set(state.ifname, state);
    logger.info(
      { interface: state.ifname, up: state.up, ifindex: state.ifindex, was: previous?.up },
      'tracked link changed',
    );
    for (const entry of sockets.values()) {
      if (
        entry.ifname === state.ifname &&
        state.up &&
        state.ifindex !== null &&
        state.ifindex !== entry.ifindex
      ) {
        reopenSocket(entry, state.ifindex);
      }
    }
    const affected = [...runtimes.values()].filter(
      (rt) => rt.config.interface === state.ifname || rt.config.trackInterfaces.includes(state.ifname),
    );
    const done = new Set<string>();
    for (const rt of affected) {
      const unit = rt.group ?? rt.config.name;
      if (done.has(unit)) continue;
      done.add(unit);
      refreshTracking(rt.config.name);
    }
  }

  /** The interface came back as a new device (deleted and re-created): bind a new socket to it. */
  function reopenSocket(entry: SocketEntry, ifindex: number): void {
    entry.socket?.close();
    entry.socket = null;
    try {
      entry.socket = openEntrySocket(entry);
      entry.ifindex = ifindex;
      logger.info({ interface: entry.ifname, ifindex }, 'vrrp socket reopened');
    } catch (error) {
      logger.error({ err: error, interface: entry.ifname }, 'vrrp socket not reopened');
      return;
    }
    // Its address may have changed with it: adverts leave from (and tie-break on) the new one.
    for (const rt of entry.instances) {
      void refreshPrimary(rt).catch((error: unknown) =>
        rt.log.error({ err: error }, 'vrrp source address not re-read'),
      );
    }
  }

  async function refreshPrimary(rt: Runtime): Promise<void> {
    if (rtnl === null || rt.config.unicastSrcIp !== null) return;
    const primary = primaryAddress(rt.config, rt.family, await rtnl.listAddresses(rt.config.interface));
    if (primary === null || primary === rt.primary || runtimes.get(rt.config.name) !== rt) return;
    rt.log.info({ from: rt.primary, to: primary }, 'vrrp source address changed');
    rt.primary = primary;
    deliver(rt.config.name, { type: 'reconfigure', params: instanceParamsFromConfig(rt.config, primary) });
  }

  function onScriptResult(name: string, script: ScriptRuntime, outcome: ScriptOutcome): void {
    if (scripts.get(name) !== script) return;
    const before = script.track.verdict;
    script.track = recordScriptResult(script.track, outcome.ok, script.config);
    if (script.track.verdict === before) return;
    logger.info(
      { script: name, verdict: script.track.verdict, was: before, reason: outcome.reason },
      'tracked script changed',
    );
    const done = new Set<string>();
    for (const rt of runtimes.values()) {
      if (!rt.config.trackScripts.includes(name)) continue;
      const unit = rt.group ?? rt.config.name;
      if (done.has(unit)) continue;
      done.add(unit);
      refreshTracking(rt.config.name);
    }
  }

  function newScriptRuntime(cfg: VrrpScriptConfig, track: ScriptTrackState): ScriptRuntime {
    const script: ScriptRuntime = { config: cfg, track, runner: undefined as unknown as ScriptRunner };
    script.runner = createScriptRunner(
      { argv: cfg.argv, intervalMs: cfg.intervalMs, timeoutMs: cfg.timeoutMs },
      {
        onResult: (outcome) => guarded('tracked script', () => onScriptResult(cfg.name, script, outcome)),
        now: clock,
        setTimeout: setTimer,
        clearTimeout: clearTimer,
        ...(deps.runScript !== undefined ? { runScript: deps.runScript } : {}),
      },
    );
    return script;
  }

  /**
   * Runs exactly the scripts some instance tracks (as keepalived: an untracked script never
   * runs). A changed definition restarts its runner; its verdict survives unless the command
   * itself changed.
   */
  function syncScripts(changed: readonly string[] = []): void {
    const tracked = new Set(config.vrrpInstances.flatMap((i) => i.trackScripts));
    const defs = new Map(config.vrrpScripts.map((s) => [s.name, s]));
    // A snapshot: entries are replaced while we go.
    for (const [name, script] of [...scripts]) {
      const def = defs.get(name);
      if (!tracked.has(name) || def === undefined || changed.includes(name)) {
        script.runner.stop();
        scripts.delete(name);
        if (def !== undefined && tracked.has(name)) {
          const sameCommand = JSON.stringify(def.argv) === JSON.stringify(script.config.argv);
          const track = sameCommand ? { verdict: script.track.verdict, against: 0 } : INITIAL_SCRIPT_TRACK;
          scripts.set(name, newScriptRuntime(def, track));
        }
      }
    }
    for (const name of tracked) {
      const def = defs.get(name);
      if (def !== undefined && !scripts.has(name))
        scripts.set(name, newScriptRuntime(def, INITIAL_SCRIPT_TRACK));
    }
    for (const script of scripts.values()) script.runner.start();
  }

  /** Watches exactly the interfaces some instance runs on or tracks. */
  async function syncLinks(): Promise<void> {
    if (links === null) return;
    const wanted = new Set(config.vrrpInstances.flatMap((i) => [i.interface, ...i.trackInterfaces]));
    for (const ifname of [...currentLinks.keys()]) {
      if (!wanted.has(ifname)) {
        currentLinks.delete(ifname);
        links.unwatch(ifname);
      }
    }
    for (const ifname of wanted) {
      if (currentLinks.has(ifname)) continue;
      const state = await links.watch(ifname);
      // A change reported while watch() was in flight is newer than its answer.
      if (!currentLinks.has(ifname)) currentLinks.set(ifname, state);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  function openEntrySocket(entry: SocketEntry): SpeakerSocket {
    return openSocket({
      family: entry.family,
      ifname: entry.ifname,
      ...(entry.sourceAddress !== null ? { sourceAddress: entry.sourceAddress } : {}),
      onPacket: (packet) => onPacket(entry, packet),
      onError: (error) => logger.warn({ err: error, interface: entry.ifname }, 'vrrp socket error'),
    });
  }

  function releaseRuntime(rt: Runtime): void {
    rt.timers.cancelAll();
    for (const handle of rt.garpTimers) clearTimer(handle);
    rt.garpTimers.clear();
    if (runtimes.get(rt.config.name) === rt) runtimes.delete(rt.config.name);
    const index = rt.entry.instances.indexOf(rt);
    if (index !== -1) rt.entry.instances.splice(index, 1);
    if (rt.entry.instances.length === 0) {
      rt.entry.socket?.close();
      rt.entry.socket = null;
      sockets.delete(rt.entry.key);
    }
  }

  function closeAll(): void {
    for (const script of scripts.values()) script.runner.stop();
    scripts.clear();
    stopLinkListener?.();
    stopLinkListener = null;
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
    if (ownLinks) links?.close();
  }

  /** Opens what the process needs once there are instances (also on a reload that adds the first). */
  function ensureKernelHandles(): void {
    if (rtnl === null) {
      rtnl = deps.rtnetlink ?? null;
      if (rtnl === null && config.vrrpInstances.length > 0) {
        rtnl = createRtnetlink();
        ownRtnl = true;
      }
      // The takeover's address socket, opened now rather than on the takeover's path.
      rtnl?.addAddressesAtOnce?.([]);
    }
    if (links === null) {
      links = deps.links ?? null;
      if (links === null && config.vrrpInstances.length > 0) {
        links = createLinkMonitor({
          onError: (error) => logger.warn({ err: error }, 'link monitor error'),
        });
        ownLinks = true;
      }
      if (links !== null) {
        stopLinkListener = links.onChange((state) => guarded('link change', () => onLinkChange(state)));
      }
    }
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
      const linkState = links === null ? undefined : await links.watch(instance.interface);
      if (linkState !== undefined && !currentLinks.has(instance.interface)) {
        currentLinks.set(instance.interface, linkState);
      }
      const created: SocketEntry = {
        key,
        socket: null,
        family,
        ifname: instance.interface,
        sourceAddress: instance.unicastSrcIp,
        ifindex: linkState?.ifindex ?? null,
        instances: [],
      };
      created.socket = openEntrySocket(created);
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
        guarded('timer', () => {
          // Before declaring the master down, read the adverts the kernel already holds: libuv
          // runs expired timers before it polls, so after a stall of the event loop an advert
          // that arrived in time would otherwise lose to the timer. One system call when the
          // queue is empty. A drained advert re-arms the timer from its arrival, which makes
          // this expiry stale (ignored) unless that deadline is past too.
          if (kind === 'master_down') runtimes.get(name)?.entry.socket?.receivePending?.();
          deliver(name, timerEvent(kind), now);
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
    runtimes.set(name, rt);
    if (rt.group === null)
      standalone.set(name, createInstanceState(instanceParamsFromConfig(instance, primary)));
  }

  function groupOfConfig(cfg: Config): Map<string, string> {
    const groupOf = new Map<string, string>();
    for (const g of cfg.vrrpSyncGroups) for (const member of g.instances) groupOf.set(member, g.name);
    return groupOf;
  }

  /** Creates the runtimes of `units` (not yet started). Throws on the first one that cannot be. */
  async function prepareUnits(units: readonly VrrpUnit[]): Promise<void> {
    const groupOf = groupOfConfig(config);
    const instances = new Map(config.vrrpInstances.map((i) => [i.name, i]));
    for (const unit of units) {
      for (const member of unit.members) {
        const instance = instances.get(member);
        if (instance !== undefined) await prepare(instance, groupOf);
      }
      if (unit.kind === 'group') {
        const members = unit.members
          .map((member) => runtimes.get(member))
          .filter((rt): rt is Runtime => rt !== undefined)
          .map((rt) => createInstanceState(instanceParamsFromConfig(rt.config, rt.primary)));
        groups.set(unit.name, createSyncGroupState(unit.name, members));
      }
    }
  }

  function startUnit(unit: VrrpUnit): void {
    // Trackers first, so an instance whose interface is down starts in FAULT.
    const first = unit.members[0];
    if (first !== undefined) guarded('tracking', () => refreshTracking(first));
    if (unit.kind === 'group') {
      const group = groups.get(unit.name);
      if (group !== undefined) {
        guarded('startup', () => commitGroup(group, stepGroup(group, { type: 'startup' }, clock())));
      }
    } else {
      guarded('startup', () => deliver(unit.name, { type: 'startup' }));
    }
  }

  /** Shuts a unit down (priority 0 if master, VIPs removed) and forgets it. */
  async function stopUnit(unit: VrrpUnit): Promise<void> {
    if (unit.kind === 'group') {
      const group = groups.get(unit.name);
      if (group !== undefined) {
        guarded('shutdown', () => commitGroup(group, stepGroup(group, { type: 'shutdown' }, clock())));
      }
      groups.delete(unit.name);
    } else {
      guarded('shutdown', () => deliver(unit.name, { type: 'shutdown' }));
      standalone.delete(unit.name);
    }
    const work: Promise<void>[] = [];
    for (const member of unit.members) {
      const rt = runtimes.get(member);
      if (rt === undefined) continue;
      work.push(rt.vipWork);
      releaseRuntime(rt);
    }
    await Promise.all(work);
  }

  /** Applies a kept instance's new settings in place. */
  function updateInstance(next: VrrpInstanceConfig): void {
    const rt = runtimes.get(next.name);
    if (rt === undefined) return;
    const before = rt.config;
    const oldCidrs = vipCidrs(before);
    const newCidrs = vipCidrs(next);
    const dropped = oldCidrs.filter((c) => !newCidrs.includes(c));
    const added = newCidrs.filter((c) => !oldCidrs.includes(c));
    rt.config = next;
    rt.log.info('vrrp instance reconfigured');
    deliver(next.name, { type: 'reconfigure', params: instanceParamsFromConfig(next, rt.primary) });
    if (dropped.length > 0) queueVipWork(rt, () => removeCidrs(rt, dropped));
    if (added.length > 0 && stateOf(next.name)?.state === 'MASTER') {
      const epoch = rt.epoch;
      queueVipWork(rt, async () => {
        if (rt.epoch !== epoch) return;
        await addCidrs(rt, added);
        if (rt.epoch === epoch) announceBurst(rt, epoch, garp.count, true);
      });
    }
  }

  async function applyReload(next: Config): Promise<void> {
    const plan = planReload(config, next);
    logger.info(
      {
        kept: plan.kept.map((u) => u.name),
        updated: plan.updated,
        stopped: plan.stopped.map((u) => u.name),
        started: plan.started.map((u) => u.name),
      },
      'vrrp reload planned',
    );
    await Promise.all(plan.stopped.map((unit) => stopUnit(unit)));
    config = next;
    ensureKernelHandles();
    const nextInstances = new Map(next.vrrpInstances.map((i) => [i.name, i]));
    for (const name of plan.updated) {
      const instance = nextInstances.get(name);
      if (instance !== undefined) guarded('reconfigure', () => updateInstance(instance));
    }
    const failed: string[] = [];
    for (const unit of plan.started) {
      try {
        await prepareUnits([unit]);
      } catch (error) {
        logger.error({ err: error, unit: unit.name }, 'vrrp instance not started');
        failed.push(`${unit.name}: ${(error as Error).message}`);
        // Forget whatever part of it was prepared.
        for (const member of unit.members) {
          const rt = runtimes.get(member);
          if (rt !== undefined) releaseRuntime(rt);
          standalone.delete(member);
        }
        groups.delete(unit.name);
      }
    }
    await syncLinks();
    syncScripts(plan.changedScripts);
    for (const unit of plan.started) if (!failed.some((f) => f.startsWith(`${unit.name}:`))) startUnit(unit);
    refreshAllTracking();
    if (failed.length > 0) {
      throw new IpvsdError('IPVSD_ERR_USAGE', `VRRP reload: not started: ${failed.join('; ')}`);
    }
  }

  return {
    async start() {
      if (phase !== 'new') throw new IpvsdError('IPVSD_ERR_USAGE', 'VRRP speaker already started');
      phase = 'starting';
      const units = vrrpUnits(config);
      try {
        ensureKernelHandles();
        await prepareUnits(units);
        await syncLinks();
      } catch (error) {
        phase = 'stopped';
        closeAll();
        throw error;
      }
      phase = 'running';
      syncScripts();
      for (const unit of units) startUnit(unit);
    },

    async stop() {
      await reloads.catch(() => undefined);
      if (phase !== 'running') {
        if (phase === 'new') phase = 'stopped';
        return;
      }
      phase = 'stopping';
      for (const script of scripts.values()) script.runner.stop();
      for (const group of groups.values()) {
        guarded('shutdown', () => commitGroup(group, stepGroup(group, { type: 'shutdown' }, clock())));
      }
      for (const name of standalone.keys()) guarded('shutdown', () => deliver(name, { type: 'shutdown' }));
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
          base_priority: instance.priority,
          faults: [...(s?.faults ?? [])].sort(),
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

    reload(next) {
      const run = async (): Promise<void> => {
        if (phase === 'new') {
          config = next;
          return;
        }
        if (phase !== 'running') throw new IpvsdError('IPVSD_ERR_USAGE', 'VRRP speaker is not running');
        await applyReload(next);
      };
      const result = reloads.then(run, run);
      reloads = result.catch(() => undefined);
      return result;
    },
  };
}
