/**
 * The validated config: every default filled in, every duration and size in the unit its name says,
 * addresses canonical. Consumers never look at the YAML again; `source` fields keep where each entry
 * was written, so later semantic checks (and runtime messages) can still point at the file.
 */
import type { Family, Forwarding, Persistence, Scheduler, ServiceKey } from '../model/ipvs.js';

/** 1-based position of an entry in the config file. */
export interface SourcePos {
  readonly line: number;
  readonly col: number;
}

/** The scheduler names are the model's (model/ipvs.ts SCHEDULERS). */
export type { Scheduler };
export type SchedulerFlag = 'sh-fallback' | 'sh-port' | 'mh-fallback' | 'mh-port' | 'ops';
/** What a config may ask for; the kernel's `local` is only ever reported, never configured. */
export type ConfigForwarding = Exclude<Forwarding, 'local'>;
export type UnmanagedPolicy = 'remove' | 'keep';
export type CheckType = 'tcp' | 'http' | 'https' | 'script' | 'none';

export interface Config {
  /** The file name given to the parser, as used in issue positions. */
  readonly file: string;
  readonly director: DirectorConfig;
  readonly vrrpScripts: readonly VrrpScriptConfig[];
  readonly vrrpInstances: readonly VrrpInstanceConfig[];
  readonly vrrpSyncGroups: readonly VrrpSyncGroupConfig[];
  readonly virtualServers: readonly VirtualServerConfig[];
}

export interface DirectorConfig {
  readonly routerId: string;
  readonly ipForward: boolean;
  readonly ipvs: IpvsSettings;
  readonly controlSocket: string;
  readonly metrics: MetricsConfig;
  readonly syncDaemon: SyncDaemonConfig | null;
  readonly announce: AnnounceSettings;
}

/**
 * How announced VIPs (`virtual_servers[].announce`) become kernel state a routing daemon (BIRD, FRR)
 * imports: a host route per VIP in a routing table of ipvsd's own, marked with its own protocol.
 */
export interface AnnounceSettings {
  /** SIGTERM: withdraw every VIP, wait this long (routers converge, connections drain), then stop. */
  readonly withdrawDelayMs: number;
  /** The routing table ipvsd owns (RT_TABLE ids 1–252 and 256–2^32-1; not main, local or default). */
  readonly table: number;
  /** rtm_protocol of ipvsd's routes, so a routing daemon can match them; routes of other protocols are left alone. */
  readonly protocol: number;
  /** Where ipvsd keeps each announced VIP as a local address (IPVS needs local delivery). */
  readonly interface: string;
}

export interface IpvsSettings {
  /** What to do with kernel services the config does not name. */
  readonly unmanaged: UnmanagedPolicy;
  /**
   * What SIGTERM does to the services the config names: `keep` them (the default: a restart drops no
   * connection) or `remove` them (the director is being taken out of service).
   */
  readonly onStop: 'keep' | 'remove';
  readonly resyncIntervalMs: number;
  readonly timeouts: IpvsTimeoutSettings;
}

/** null: leave the kernel's value alone. */
export interface IpvsTimeoutSettings {
  readonly tcpS: number | null;
  readonly tcpFinS: number | null;
  readonly udpS: number | null;
}

export interface MetricsConfig {
  /** Host is an IPv4 address, an IPv6 address (without brackets) or a host name. */
  readonly listen: { readonly host: string; readonly port: number };
}

export interface SyncDaemonConfig {
  readonly interface: string;
  /** 0 (the default) makes a backup accept every sync id. */
  readonly syncId: number;
  /** A VRRP sync group or instance whose state the daemon follows (master ↔ master). */
  readonly follow: string;
  readonly source: SourcePos;
}

export interface VirtualServerConfig {
  /** Unique; defaults to `serviceKeyString(key)`, e.g. `tcp/203.0.113.100:80`. */
  readonly name: string;
  readonly key: ServiceKey;
  readonly scheduler: Scheduler;
  readonly schedulerFlags: readonly SchedulerFlag[];
  /** The default for the real servers. */
  readonly forwarding: ConfigForwarding;
  /** null: not persistent. */
  readonly persistence: Persistence | null;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly sorryServer: SorryServerConfig | null;
  /** true: a failed real server gets weight 0 instead of being removed. */
  readonly inhibitOnFailure: boolean;
  /** Full NAT: what is forwarded to the real servers leaves with this source address; null: off. */
  readonly fullNat: string | null;
  /** Announce the VIP (a host route in `director.announce.table`) while this director can serve it. */
  readonly announce: boolean;
  readonly realServers: readonly RealServerConfig[];
  readonly source: SourcePos;
}

export interface SorryServerConfig {
  readonly address: string;
  readonly port: number;
  readonly source: SourcePos;
}

export interface RealServerConfig {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly forwarding: ConfigForwarding;
  /** 0 means no limit. */
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
  /** The effective check: the virtual server's, overridden key by key by the real server's. */
  readonly check: CheckConfig;
  readonly source: SourcePos;
}

export type CheckConfig = NoCheck | TcpCheck | HttpCheck | ScriptCheck;

export interface NoCheck {
  readonly type: 'none';
  readonly source: SourcePos;
}

export interface CheckTiming {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive failures before the real server is down. */
  readonly retry: number;
  readonly delayBeforeRetryMs: number;
  /** Consecutive successes before a down real server is up again. */
  readonly rise: number;
  /** Random delay before the first check, spreading checks out. */
  readonly warmupMs: number;
  /**
   * Health before the first verdict. `up` (the default) keeps a restarted daemon from pulling every
   * real server out of the kernel until its checks have run; `down` waits for `rise` successes.
   */
  readonly initialState: 'up' | 'down';
  readonly source: SourcePos;
}

export interface CheckTarget {
  /** Defaults to the real server's address and port. */
  readonly connectIp: string;
  readonly connectPort: number;
  /** null: let the kernel choose the source address. */
  readonly bindIp: string | null;
}

export interface TcpCheck extends CheckTiming, CheckTarget {
  readonly type: 'tcp';
}

/** An inclusive range of HTTP status codes; `200` is `{ min: 200, max: 200 }`. */
export interface StatusRange {
  readonly min: number;
  readonly max: number;
}

export interface HttpCheck extends CheckTiming, CheckTarget {
  readonly type: 'http' | 'https';
  readonly path: string;
  readonly status: readonly StatusRange[];
  /** Lowercase MD5 hex of the body, or null to not compare. */
  readonly digest: string | null;
  /** Host header; null: the connect address. */
  readonly host: string | null;
  /** https only; null: no SNI. */
  readonly sni: string | null;
  /** https only. */
  readonly verifyTls: boolean;
}

export interface ScriptCheck extends CheckTiming {
  readonly type: 'script';
  /** argv[0] is an absolute path; run without a shell. */
  readonly argv: readonly string[];
}

export interface VrrpScriptConfig {
  readonly name: string;
  readonly argv: readonly string[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
  /** Added to the priority while the script succeeds (positive) or fails (negative). */
  readonly weight: number;
  readonly source: SourcePos;
}

export interface VirtualIpConfig {
  readonly address: string;
  readonly family: Family;
  readonly prefixLength: number;
}

export interface VrrpInstanceConfig {
  readonly name: string;
  readonly state: 'master' | 'backup';
  readonly interface: string;
  readonly virtualRouterId: number;
  readonly priority: number;
  /** Centiseconds, as VRRPv3 carries it; whole seconds for version 2. */
  readonly advertIntervalCs: number;
  readonly version: 2 | 3;
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  /** Version 2 only. */
  readonly authentication: { readonly type: 'pass' | 'ah'; readonly password: string } | null;
  readonly virtualIpaddresses: readonly VirtualIpConfig[];
  readonly unicastSrcIp: string | null;
  readonly unicastPeers: readonly string[];
  readonly trackInterfaces: readonly string[];
  readonly trackScripts: readonly string[];
  /** argv of the command run on entering each state; null: none. */
  readonly notify: {
    readonly master: readonly string[] | null;
    readonly backup: readonly string[] | null;
    readonly fault: readonly string[] | null;
  };
  readonly source: SourcePos;
}

export interface VrrpSyncGroupConfig {
  readonly name: string;
  readonly instances: readonly string[];
  readonly source: SourcePos;
}
