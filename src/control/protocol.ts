/**
 * The control protocol between ipvsctl and ipvsd: one JSON request per connection on a Unix socket,
 * one JSON response, newline-terminated. Shared by the daemon's server and the CLI's client; the
 * CLI never imports daemon internals, only these types.
 */

export type ControlRequest =
  | { readonly cmd: 'status' }
  | { readonly cmd: 'reload' }
  | { readonly cmd: 'drain'; readonly vs: string; readonly rs: string }
  | { readonly cmd: 'undrain'; readonly vs: string; readonly rs: string };

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
  readonly real_servers: readonly RealServerStatus[];
}

/** `ipvsctl status --json` (DESIGN §5 and issue 3's contract additions). */
export interface StatusResult {
  readonly virtual_servers: readonly VirtualServerStatus[];
  readonly vrrp: {
    readonly instances: readonly {
      readonly name: string;
      readonly state: VrrpState;
      readonly priority: number;
    }[];
    readonly sync_groups: readonly { readonly name: string; readonly state: VrrpState }[];
  };
  readonly last_reconcile: {
    /** ISO 8601 */
    readonly at: string;
    readonly operations: number;
    readonly errors: readonly string[];
  } | null;
  readonly config: { readonly file: string; readonly loaded_at: string };
}

export interface ReloadResult {
  readonly reloaded: boolean;
  /** `FILE:LINE:COL: message` for every problem when the new config was refused. */
  readonly errors: readonly string[];
}

export interface DrainResult {
  readonly vs: string;
  readonly rs: string;
  readonly drained: boolean;
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
}

export type ControlErrorBody = { readonly code: string; readonly message: string };
