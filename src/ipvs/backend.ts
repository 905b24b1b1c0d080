/**
 * The one interface through which ipvsd changes kernel IPVS. The kernel implementation speaks
 * generic netlink; the in-memory one models the kernel's rules closely enough for unit tests of
 * everything above it (director, reconciler, CLI formatting).
 */
import type { IpvsdError } from '../errors.js';
import type { IpvsOperation, IpvsTimeouts, ServiceKey, ServiceState } from '../model/ipvs.js';

export interface IpvsInfo {
  /** e.g. `1.2.1` */
  readonly version: string;
  readonly connTableSize: number;
}

export type SyncDaemonState = 'master' | 'backup';

export interface SyncDaemon {
  readonly state: SyncDaemonState;
  readonly interface: string;
  readonly syncId: number;
}

/** One step of a sync daemon switch. */
export type SyncDaemonCommand =
  | { readonly op: 'stop'; readonly state: SyncDaemonState }
  | { readonly op: 'start'; readonly daemon: SyncDaemon };

export interface SyncDaemonSwitch {
  /**
   * True when the kernel has executed every command, in order, by the time switchDaemons
   * returned (the kernel backend: one sendmsg issued inside the call); false when they are still
   * on their way. Either way `done` tells how each ended.
   */
  readonly sent: boolean;
  /** Each command's outcome, in order (null: done); never rejects. */
  readonly done: Promise<(IpvsdError | null)[]>;
}

export interface OperationResult {
  readonly operation: IpvsOperation;
  /** null when the kernel accepted it. */
  readonly error: IpvsdError | null;
}

export interface IpvsBackend {
  info(): Promise<IpvsInfo>;
  /** Every service with its destinations and counters, in kernel order. */
  dump(): Promise<ServiceState[]>;
  /**
   * Sends every operation in order without waiting for each reply (the kernel executes them in
   * order), then reports each one's outcome. A failed operation does not stop the rest.
   */
  apply(operations: readonly IpvsOperation[]): Promise<OperationResult[]>;
  timeouts(): Promise<IpvsTimeouts>;
  daemons(): Promise<SyncDaemon[]>;
  startDaemon(daemon: SyncDaemon): Promise<void>;
  stopDaemon(state: SyncDaemonState): Promise<void>;
  /**
   * The commands in one go, without a round trip each (a takeover's stop-backup, start-master).
   * A failed command does not stop the ones after it.
   */
  switchDaemons(commands: readonly SyncDaemonCommand[]): SyncDaemonSwitch;
  /** Removes every service (IPVS_CMD_FLUSH). */
  flush(): Promise<void>;
  /** Zeroes the counters of one service, or of all when `key` is omitted. */
  zero(key?: ServiceKey): Promise<void>;
  close(): void;
}
