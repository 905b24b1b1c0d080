/**
 * The VRRP speaker's one explicit state (SpeakerState): the dependencies resolved once, the
 * configuration in force, and every instance, socket, sync group, tracked script and link the
 * speaker holds. The duty modules (speaker-dispatch.ts, speaker-vips.ts, speaker-trackers.ts,
 * speaker-lifecycle.ts, speaker-reload.ts) are plain functions over it; nothing else keeps state.
 * Also here: the small helpers every one of them needs (a guarded call, the lookups of an
 * instance's state and of the members that move with it, and the log lines a takeover holds back).
 */
import type { Config, VrrpInstanceConfig, VrrpScriptConfig } from '../config/types.js';
import type { Family } from '../model/ipvs.js';
import { announceAddress } from '../sys/garp.js';
import type { LinkState } from '../sys/link-monitor.js';
import { componentLogger, type Logger } from '../sys/logger.js';
import { createRtExtras, type RtExtras } from '../sys/rt-extras.js';
import { openVrrpSocket } from '../sys/vrrp-socket.js';
import type { DropReason } from './drop-reasons.js';
import { createRunNotify, type RunNotify } from './notify.js';
import { type ArrivalClock, createArrivalClock } from './receive-time.js';
import type { RunScript, ScriptRunner } from './script-runner.js';
import {
  DEFAULT_GARP,
  type GarpOptions,
  type OpenSpeakerSocket,
  type SpeakerLinks,
  type SpeakerRtnetlink,
  type SpeakerSocket,
  type TakeoverStepHook,
  type VrrpSpeakerDeps,
  type VrrpStateListener,
  type VrrpTransitionHook,
} from './speaker-types.js';
import type { InstanceState } from './state-machine.js';
import type { SyncGroupState } from './sync-group.js';
import type { VrrpTimers } from './timers.js';
import { type TrackFileRuntime, type WatchFile, watchFileWithFs } from './track-file.js';
import type { ScriptTrackState } from './tracking.js';
import type { VrrpState } from './types.js';

/** What the speaker was given, with the defaults filled in. Fixed for its life. */
export interface SpeakerEnv {
  readonly logger: Logger;
  readonly clock: () => number;
  readonly arrivalClock: ArrivalClock;
  readonly setTimer: (callback: () => void, ms: number) => unknown;
  readonly clearTimer: (handle: unknown) => void;
  readonly openSocket: OpenSpeakerSocket;
  readonly announce: (ifname: string, address: string) => Error | undefined;
  readonly runNotify: RunNotify;
  readonly runScript: RunScript | undefined;
  readonly garp: GarpOptions;
  readonly transitionHook: VrrpTransitionHook | undefined;
  readonly onTakeoverStep: TakeoverStepHook | undefined;
  /** Injected kernel handles (else the speaker opens its own when it first needs them). */
  readonly rtnetlink: SpeakerRtnetlink | undefined;
  readonly links: SpeakerLinks | undefined;
  readonly rtExtras: RtExtras;
  readonly ownRtExtras: boolean;
  readonly procSys: string;
  readonly watchFile: WatchFile;
}

/** One raw socket, shared by the instances on one interface, family and unicast source. */
export interface SocketEntry {
  readonly key: string;
  socket: SpeakerSocket | null;
  readonly family: Family;
  readonly ifname: string;
  readonly sourceAddress: string | null;
  /** The multicast group joined (mcast_group); null: the RFC's. */
  readonly group: string | null;
  /** The interface index the socket was bound to (null: unknown). A new index needs a new socket. */
  ifindex: number | null;
  readonly instances: Runtime[];
}

/** One running instance: its configuration and everything around its state machine. */
export interface Runtime {
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
export interface Takeover {
  readonly rt: Runtime;
  readonly epoch: number;
}

export interface ScriptRuntime {
  config: VrrpScriptConfig;
  track: ScriptTrackState;
  runner: ScriptRunner;
}

export type SpeakerPhase = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface SpeakerState {
  readonly env: SpeakerEnv;
  config: Config;
  phase: SpeakerPhase;
  readonly runtimes: Map<string, Runtime>;
  readonly sockets: Map<string, SocketEntry>;
  /** State machines of the instances outside sync groups (the groups hold their members'). */
  readonly standalone: Map<string, InstanceState>;
  readonly groups: Map<string, SyncGroupState>;
  readonly listeners: Set<VrrpStateListener>;
  readonly scripts: Map<string, ScriptRuntime>;
  /** The track files some instance tracks, by name. */
  readonly trackFiles: Map<string, TrackFileRuntime>;
  /** Link states as last reported by the monitor (watch() results and changes). */
  readonly currentLinks: Map<string, LinkState>;
  rtnl: SpeakerRtnetlink | null;
  ownRtnl: boolean;
  links: SpeakerLinks | null;
  ownLinks: boolean;
  stopLinkListener: (() => void) | null;
  /** Kernel drops of the sockets closed so far (instances gone), by `interface|family`. */
  readonly closedDrops: Map<string, number>;
  /** The reload in progress (reloads run one at a time). */
  reloads: Promise<void>;
  /** Log lines (and master notify scripts) a takeover holds back: see afterTakeover. */
  heldLines: (() => void)[];
}

export function createSpeakerState(config: Config, deps: VrrpSpeakerDeps): SpeakerState {
  const logger = componentLogger(deps.logger, 'vrrp');
  const clock = deps.now ?? (() => performance.now());
  const env: SpeakerEnv = {
    logger,
    clock,
    arrivalClock: createArrivalClock(clock, deps.wallClock ?? Date.now),
    setTimer: deps.setTimeout ?? ((cb: () => void, ms: number) => setTimeout(cb, ms)),
    clearTimer: deps.clearTimeout ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout)),
    openSocket: deps.openSocket ?? openVrrpSocket,
    announce: deps.announce ?? ((ifname: string, address: string) => announceAddress(ifname, address)),
    runNotify: deps.runNotify ?? createRunNotify(logger),
    runScript: deps.runScript,
    garp: { ...DEFAULT_GARP, ...deps.garp },
    transitionHook: deps.transitionHook,
    onTakeoverStep: deps.onTakeoverStep,
    rtnetlink: deps.rtnetlink,
    links: deps.links,
    rtExtras: deps.rtExtras ?? createRtExtras(),
    ownRtExtras: deps.rtExtras === undefined,
    procSys: deps.procSys ?? '/proc/sys',
    watchFile: deps.watchFile ?? watchFileWithFs,
  };
  return {
    env,
    config,
    phase: 'new',
    runtimes: new Map(),
    sockets: new Map(),
    standalone: new Map(),
    groups: new Map(),
    listeners: new Set(),
    scripts: new Map(),
    trackFiles: new Map(),
    currentLinks: new Map(),
    rtnl: null,
    ownRtnl: false,
    links: null,
    ownLinks: false,
    stopLinkListener: null,
    closedDrops: new Map(),
    reloads: Promise.resolve(),
    heldLines: [],
  };
}

export function guarded(s: SpeakerState, what: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    s.env.logger.error({ err: error }, `vrrp ${what} failed`);
  }
}

/** Tells the takeover hook, if any, of one step (a throwing hook is logged, never propagated). */
export function takeoverStep(s: SpeakerState, step: Parameters<TakeoverStepHook>[0], instance: string): void {
  const hook = s.env.onTakeoverStep;
  if (hook !== undefined) guarded(s, 'takeover step hook', () => hook(step, instance, s.env.clock()));
}

/** `interface|family`: how socket drops are counted (and labelled). */
export const dropsKey = (entry: SocketEntry): string => `${entry.ifname}|${entry.family}`;

/** Closes the entry's socket, keeping the count of what the kernel dropped on it. */
export function closeEntrySocket(s: SpeakerState, entry: SocketEntry): void {
  const socket = entry.socket;
  if (socket === null) return;
  entry.socket = null;
  const drops = socket.drops?.() ?? 0;
  if (drops > 0) s.closedDrops.set(dropsKey(entry), (s.closedDrops.get(dropsKey(entry)) ?? 0) + drops);
  socket.close();
}

/** The state machine of instance `name`, standalone or inside its sync group. */
export function stateOf(s: SpeakerState, name: string): InstanceState | undefined {
  const rt = s.runtimes.get(name);
  if (rt === undefined) return undefined;
  if (rt.group === null) return s.standalone.get(name);
  return s.groups.get(rt.group)?.members.find((m) => m.params.name === name);
}

/** The members that move together with instance `name` (itself alone outside a group). */
export function unitMembers(s: SpeakerState, name: string): Runtime[] {
  const rt = s.runtimes.get(name);
  if (rt === undefined) return [];
  if (rt.group === null) return [rt];
  const group = s.groups.get(rt.group);
  return (group?.members ?? [])
    .map((m) => s.runtimes.get(m.params.name))
    .filter((r): r is Runtime => r !== undefined);
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
export function afterTakeover(s: SpeakerState, state: VrrpState, write: () => void): void {
  if (state !== 'MASTER') {
    write();
    return;
  }
  if (s.heldLines.length === 0) setImmediate(() => writeHeldLines(s));
  s.heldLines.push(write);
}

export function writeHeldLines(s: SpeakerState): void {
  const lines = s.heldLines;
  s.heldLines = [];
  for (const write of lines) guarded(s, 'log', write);
}
