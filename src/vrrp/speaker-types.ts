/**
 * The VRRP speaker's public types: what it needs injected (VrrpSpeakerDeps), what it reports
 * (status, state changes) and what it offers (VrrpSpeaker). speaker.ts re-exports all of them;
 * import them from there.
 */
import type { Config } from '../config/types.js';
import type { LinkMonitor } from '../sys/link-monitor.js';
import type { Logger } from '../sys/logger.js';
import type { RtExtras } from '../sys/rt-extras.js';
import type { Rtnetlink } from '../sys/rtnetlink.js';
import type { VrrpSocketOptions } from '../sys/vrrp-socket.js';
import type { DropReason } from './drop-reasons.js';
import type { RunNotify } from './notify.js';
import type { RunScript } from './script-runner.js';
import type { WatchFile } from './track-file.js';
import type { VrrpState } from './types.js';

/** The part of a VRRP socket the speaker uses (tests inject an in-memory link). */
export interface SpeakerSocket {
  send(payload: Uint8Array, destination?: string): Error | undefined;
  /** Delivers what is queued now through onPacket (VrrpSocket.receivePending); optional for fakes. */
  receivePending?(): void;
  /**
   * Packets the kernel dropped on this socket since it was opened (receive queue full), as far
   * as the socket knows (VrrpSocket.drops); optional for fakes.
   */
  drops?(): number;
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

/**
 * The steps of a takeover, in order: the master-down timer expired (before the socket is read
 * once more), the step that made the instance master ran (its first advert is out), its VIPs
 * went to the kernel, their first announcements went out.
 */
export type TakeoverStep = 'master_down_expired' | 'became_master' | 'vips_sent' | 'announced';

/** `at`: the speaker's clock (deps.now). Runs synchronously on the takeover's path: keep it cheap. */
export type TakeoverStepHook = (step: TakeoverStep, instance: string, at: number) => void;

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
  /** Routes, rules and the VMAC's macvlan. Default: createRtExtras() (closed by stop()). */
  readonly rtExtras?: RtExtras;
  /** Where /proc/sys is (VMAC settings). Default `/proc/sys`. */
  readonly procSys?: string;
  /** Track files are read from here (keepalived's inotify, through fs.watch). Default: node:fs. */
  readonly watchFile?: WatchFile;
  /** Told each step of a takeover, for timing it (benchmarks, tracing). Default: none. */
  readonly onTakeoverStep?: TakeoverStepHook;
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

/** One VRRP socket (instances on one interface and family share it). */
export interface VrrpSocketStatus {
  readonly interface: string;
  readonly family: 'inet' | 'inet6';
  /** Packets the kernel dropped on it (receive queue full) since the daemon started. */
  readonly drops: number;
}

export interface VrrpSpeakerStatus {
  readonly instances: readonly VrrpInstanceStatus[];
  readonly sync_groups: readonly { readonly name: string; readonly state: VrrpStatusState }[];
  /** The open sockets (absent from speakers that do not report them). */
  readonly sockets?: readonly VrrpSocketStatus[];
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
