/**
 * The control protocol between ipvsctl and ipvsd: one JSON request per connection on a Unix socket,
 * one JSON response, newline-terminated. Shared by the daemon's server and the CLI's client; the
 * CLI never imports daemon internals, only these types.
 */

export type ControlRequest =
  | { readonly cmd: 'status' }
  | { readonly cmd: 'reload' }
  | { readonly cmd: 'drain'; readonly vs: string; readonly rs: string }
  | { readonly cmd: 'undrain'; readonly vs: string; readonly rs: string }
  | { readonly cmd: 'failover'; readonly name: string }
  /** `address` absent: the node as a whole. */
  | { readonly cmd: 'withdraw'; readonly address?: string }
  | { readonly cmd: 'announce'; readonly address?: string };

export type ControlResponse<T = unknown> =
  | { readonly ok: true; readonly result: T }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

export type HealthState = 'up' | 'down';
export type VrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'INIT';

export interface RealServerStatus {
  readonly address: string;
  readonly port: number;
  /** The configured weight. */
  readonly weight: number;
  /**
   * The weight the director gives the real server while it is up and not drained: `weight` plus
   * its file checks' value × weight, within 0..2147483647 (equal to `weight` without weighted
   * file checks). Optional in the type so a CLI can read an older daemon.
   */
  readonly effective_weight?: number;
  /** The weight in the kernel now; null when the real server is not in the kernel table. */
  readonly kernel_weight: number | null;
  readonly health: HealthState;
  readonly drained: boolean;
  readonly last_check: {
    readonly ok: boolean;
    readonly latency_ms: number;
    readonly reason: string;
    /** ISO 8601 */
    readonly at: string;
  } | null;
}

export interface VirtualServerStatus {
  readonly name: string;
  readonly protocol: string | null;
  readonly address: string | null;
  readonly port: number | null;
  readonly fwmark: number | null;
  readonly scheduler: string;
  /** Sum of the weights of live real servers vs the configured quorum. */
  readonly quorum: { readonly required: number; readonly live_weight: number; readonly met: boolean };
  /** True while the sorry server replaces the real servers. */
  readonly sorry_server_active: boolean;
  /** A virtual server of a `virtual_server_groups` entry: its name. The fields above are its first member's. */
  readonly group?: string | null;
  /** Every kernel service of a group's virtual server, and whether the kernel holds it. */
  readonly members?: readonly {
    readonly protocol: string | null;
    readonly address: string | null;
    readonly port: number | null;
    readonly fwmark: number | null;
    readonly in_kernel: boolean;
  }[];
  readonly real_servers: readonly RealServerStatus[];
}

/** Transitions into each state since the daemon started (its startup INIT → BACKUP included). */
export type TransitionsByState = Readonly<Record<VrrpState, number>>;

/**
 * One VRRP instance. `name`, `state` and `priority` are DESIGN §5's; the rest are issue 4's
 * additions (optional in the type so a CLI can read an older daemon).
 */
export interface VrrpInstanceStatus {
  readonly name: string;
  readonly state: VrrpState;
  /** The effective priority (base plus tracker weights; 0 never shows: it is only advertised). */
  readonly priority: number;
  /** The configured priority (the effective one moves with weighted track scripts). */
  readonly base_priority?: number;
  /** Trackers holding the instance in FAULT (`interface eth1`, `script chk_web`, `sync group VG1`). */
  readonly faults?: readonly string[];
  /** The primary address of the last master heard (ours while we are master); null before any. */
  readonly master_address?: string | null;
  readonly transitions?: number;
  readonly transitions_by_state?: TransitionsByState;
  /** ISO 8601; null before the first transition. */
  readonly last_transition?: string | null;
  readonly adverts?: {
    readonly sent: number;
    readonly received: number;
    /** Adverts dropped, by reason (every reason present, 0 included). */
    readonly dropped: Readonly<Record<string, number>>;
  };
}

export interface VrrpSyncGroupStatus {
  readonly name: string;
  readonly state: VrrpState;
  readonly members?: readonly string[];
  readonly transitions?: number;
  readonly transitions_by_state?: TransitionsByState;
  readonly last_transition?: string | null;
}

/** The kernel IPVS connection-sync daemon as ipvsd drives it (`director.sync_daemon`). */
export interface SyncDaemonStatus {
  readonly interface: string;
  readonly sync_id: number;
  /** The sync group or instance it follows. */
  readonly follow: string;
  /** That group's or instance's state as last applied (the switch runs in order with the VIPs). */
  readonly follow_state: VrrpState;
  /** The daemon that should run: master while the followed state is MASTER, backup otherwise. */
  readonly wanted: 'master' | 'backup' | null;
  /** What the kernel reported after the last switch. */
  readonly running: readonly ('master' | 'backup')[];
  readonly switches: number;
  readonly errors: number;
  readonly last_error: string | null;
}

/** `ipvsctl status --json` (DESIGN §5 and issue 3's contract additions). */
export interface StatusResult {
  readonly virtual_servers: readonly VirtualServerStatus[];
  readonly vrrp: {
    readonly instances: readonly VrrpInstanceStatus[];
    readonly sync_groups: readonly VrrpSyncGroupStatus[];
    /** null when the config has no `director.sync_daemon`. */
    readonly sync_daemon?: SyncDaemonStatus | null;
  };
  readonly last_reconcile: {
    /** ISO 8601 */
    readonly at: string;
    readonly operations: number;
    readonly errors: readonly string[];
  } | null;
  readonly config: { readonly file: string; readonly loaded_at: string };
  /** One entry per VIP with `announce: true` (issue 15); absent from daemons before it. */
  readonly announcements?: readonly AnnouncementStatus[];
  /** The daemon's processes: `ipvsd` and its children `checks` and `vrrp`. */
  readonly processes?: readonly ProcessStatus[];
  /** Full NAT's nftables table (`inet ipvsd`); absent from daemons without it. */
  readonly nat?: NatStatus;
}

export interface NatStatus {
  /** What the last reading showed; `unknown` before one succeeded. */
  readonly table: 'present' | 'absent' | 'unknown';
  /** Source-NAT rules the table should hold: one per full-NAT virtual server. */
  readonly rules: number;
  /** Runs that failed (nft missing, refused, killed, unreadable). */
  readonly errors: number;
  /** Times the table was found changed behind ipvsd's back and written again. */
  readonly drift_repairs: number;
  readonly last_error: string | null;
  /** Each `full_nat` address and whether the director holds it (null: not known yet). */
  readonly sources: readonly { readonly address: string; readonly local: boolean | null }[];
}

export interface ProcessStatus {
  /** `ipvsd`, `checks`, `vrrp` */
  readonly name: string;
  /** null while a child is down (between a crash or hang and its restart) */
  readonly pid: number | null;
  /** restarts after a crash or a hang */
  readonly restarts: number;
  /** ISO 8601: when the running process started; null while down */
  readonly started_at: string | null;
  /** ISO 8601: the last restart; null if never */
  readonly last_restart: string | null;
}

export interface ReloadResult {
  readonly reloaded: boolean;
  /** `FILE:LINE:COL: message` for every problem when the new config was refused. */
  readonly errors: readonly string[];
}

/** One announced VIP: whether its route is in ipvsd's table (so BGP carries it) and why (not). */
export interface AnnouncementStatus {
  readonly address: string;
  readonly announced: boolean;
  /** `announced`, `stopping`, `fault: …`, `withdrawn by operator`, `not reconciled: …`, `quorum lost: …` */
  readonly reason: string;
  /** ISO 8601: when `announced` last changed. */
  readonly since: string;
}

/** `ipvsctl withdraw [ADDRESS]` / `ipvsctl announce [ADDRESS]`. */
export interface AnnounceResult {
  /** null: the node as a whole. */
  readonly address: string | null;
  /** True for withdraw, false for announce. */
  readonly withdrawn: boolean;
  /** Every announced VIP after the change. */
  readonly announcements: readonly AnnouncementStatus[];
  /** Present when the change could not be saved for the next daemon start, or does not take effect alone. */
  readonly warning?: string;
}

/** `ipvsctl failover NAME`: the handover happened (a priority-0 advert went out, then BACKUP). */
export interface FailoverResult {
  readonly name: string;
  readonly kind: 'instance' | 'sync_group';
  readonly previous: VrrpState;
  readonly state: VrrpState;
}

export interface DrainResult {
  readonly vs: string;
  readonly rs: string;
  readonly drained: boolean;
  /** Present when the change could not be saved for the next daemon start (it holds until then). */
  readonly warning?: string;
}

/** Where ipvsd listens and ipvsctl connects unless told otherwise (`director.control_socket`, `--socket`). */
export const DEFAULT_CONTROL_SOCKET = '/run/ipvsd/control.sock';

/** A request line longer than this (without its newline) is refused unread: no command needs more. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export type ControlCommand = ControlRequest['cmd'];

/** The `result` each command answers with when `ok` is true. */
export interface ControlResults {
  readonly status: StatusResult;
  readonly reload: ReloadResult;
  readonly drain: DrainResult;
  readonly undrain: DrainResult;
  readonly failover: FailoverResult;
  readonly withdraw: AnnounceResult;
  readonly announce: AnnounceResult;
}

export type ControlErrorBody = { readonly code: string; readonly message: string };
