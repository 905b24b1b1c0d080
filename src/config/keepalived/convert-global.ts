/**
 * global_defs to a draft of ipvsd's `director` section (router id, connection sync, IPVS
 * timeouts, what happens to kernel services the config does not name) and the default VRRP
 * version. Everything keepalived keeps here for mail, SNMP, D-Bus, process scheduling and
 * script security is dropped with a warning: none of it decides what carries traffic.
 */
import { quote } from '../../errors.js';
import type { Diagnostics, Place } from './diagnostics.js';
import type { Statement } from './parser.js';
import type { Token } from './tokenizer.js';
import { arity, int, ip, single } from './values.js';
import { type DroppedTable, refuse, register, walk, warn } from './walk.js';

export interface SyncDaemonDraft {
  readonly interface: string;
  readonly instance: string | null;
  readonly syncId: number | null;
  readonly at: Place;
}

export interface GlobalDraft {
  routerId?: string;
  vrrpVersion?: 2 | 3;
  /** vrrp_mcast_group4 / vrrp_mcast_group6 (keepalived global_data.c). */
  mcastGroup4?: string;
  mcastGroup6?: string;
  syncDaemon?: SyncDaemonDraft;
  lvsFlush?: boolean;
  lvsFlushOnStop?: boolean;
  timeouts: { tcp?: number; tcpFin?: number; udp?: number };
}

const mail = warn('ipvsd sends no mail; watch its metrics or logs instead');
const snmp = warn('ipvsd has no SNMP agent; it serves Prometheus metrics');
const tuning = warn('process tuning of keepalived; ipvsd is one process, tune it through systemd');
const garp = warn('ipvsd sends its gratuitous ARP / NA burst on becoming MASTER with its own timing');
const fifo = warn('ipvsd has no notify FIFOs; use notify scripts, the control socket or metrics');

const GLOBAL_DROPPED: DroppedTable = {
  notification_email: mail,
  notification_email_from: mail,
  smtp_server: mail,
  smtp_helo_name: mail,
  smtp_connect_timeout: mail,
  smtp_alert: mail,
  smtp_alert_vrrp: mail,
  smtp_alert_checker: mail,
  no_email_faults: mail,
  no_checker_emails: mail,
  checker_log_all_failures: warn('ipvsd logs health changes, not every failed check'),
  lvs_id: warn('an old name of router_id that keepalived only used in mail'),
  snmp_socket: snmp,
  enable_snmp_vrrp: snmp,
  enable_snmp_checker: snmp,
  enable_snmp_rfc: snmp,
  enable_snmp_rfcv2: snmp,
  enable_snmp_rfcv3: snmp,
  enable_snmp_keepalived: snmp,
  enable_traps: snmp,
  enable_dbus: warn('ipvsd has no D-Bus interface; it has a control socket'),
  dbus_service_name: warn('ipvsd has no D-Bus interface'),
  script_user: warn('ipvsd runs scripts as its own user (root)'),
  enable_script_security: warn('ipvsd runs scripts without a shell and never as another user'),
  process_names: tuning,
  process_name: tuning,
  vrrp_process_name: tuning,
  checker_process_name: tuning,
  vrrp_priority: tuning,
  checker_priority: tuning,
  vrrp_no_swap: tuning,
  checker_no_swap: tuning,
  vrrp_rt_priority: tuning,
  checker_rt_priority: tuning,
  vrrp_cpu_affinity: tuning,
  checker_cpu_affinity: tuning,
  vrrp_rlimit_rttime: tuning,
  checker_rlimit_rttime: tuning,
  max_auto_priority: tuning,
  min_auto_priority_delay: tuning,
  child_wait_time: tuning,
  vrrp_netlink_cmd_rcv_bufs: tuning,
  vrrp_netlink_cmd_rcv_bufs_force: tuning,
  vrrp_netlink_monitor_rcv_bufs: tuning,
  vrrp_netlink_monitor_rcv_bufs_force: tuning,
  lvs_netlink_cmd_rcv_bufs: tuning,
  lvs_netlink_cmd_rcv_bufs_force: tuning,
  lvs_netlink_monitor_rcv_bufs: tuning,
  lvs_netlink_monitor_rcv_bufs_force: tuning,
  vrrp_garp_master_delay: garp,
  vrrp_garp_master_repeat: garp,
  vrrp_garp_lower_prio_delay: garp,
  vrrp_garp_lower_prio_repeat: garp,
  vrrp_garp_master_refresh: warn('ipvsd does not refresh gratuitous ARP while MASTER'),
  vrrp_garp_master_refresh_repeat: warn('ipvsd does not refresh gratuitous ARP while MASTER'),
  vrrp_garp_interval: garp,
  vrrp_gna_interval: garp,
  vrrp_min_garp: garp,
  vrrp_skip_check_adv_addr: warn('ipvsd does not compare the addresses in adverts'),
  vrrp_check_unicast_src: warn('ipvsd does not check the source of unicast adverts against the peers'),
  vrrp_strict: warn(
    'ipvsd installs no no_accept firewall rules: its VIPs accept traffic (what an LVS director needs)',
  ),
  vrrp_iptables: warn('ipvsd installs no firewall rules for VIPs'),
  vrrp_ipsets: warn('ipvsd installs no firewall rules for VIPs'),
  nftables: warn('ipvsd installs no firewall rules for VIPs'),
  vrrp_lower_prio_no_advert: warn('ipvsd follows the RFC here'),
  vrrp_higher_prio_send_advert: warn('ipvsd follows the RFC here'),
  default_interface: warn('only used by keepalived for static addresses, which ipvsd does not have'),
  dynamic_interfaces: warn('ipvsd looks interfaces up when it needs them'),
  log_unknown_vrids: warn('ipvsd counts dropped adverts in its metrics'),
  notify_fifo: fifo,
  notify_fifo_script: fifo,
  vrrp_notify_fifo: fifo,
  vrrp_notify_fifo_script: fifo,
  lvs_notify_fifo: fifo,
  lvs_notify_fifo_script: fifo,
  use_pid_dir: warn('ipvsd writes no pid files (systemd tracks it)'),
  instance: warn('ipvsd has no instance name'),
  reload_check_config: warn('ipvsd always validates a config before reloading it'),
  vrrp_startup_delay: refuse('ipvsd starts its VRRP instances at once; delay the service start instead'),
  vrrp_delay_after_boot: refuse('ipvsd starts its VRRP instances at once; delay the service start instead'),
  net_namespace: refuse('ipvsd runs in the namespace it is started in (use systemd NetworkNamespacePath=)'),
  net_namespace_ipvs: refuse('ipvsd programs IPVS in its own namespace'),
  vrrp_down_timer_adverts: refuse(
    'ipvsd uses the RFC master-down interval (3 adverts); the peers must agree',
  ),
  startup_script: refuse('ipvsd runs no startup script; run it from systemd (ExecStartPre=)'),
  shutdown_script: refuse('ipvsd runs no shutdown script; run it from systemd (ExecStopPost=)'),
};

const TIMEOUT_MAX_S = 2_147_483;

const GLOBAL_HANDLERS = register<GlobalDraft>(
  ['global_defs'],
  {
    router_id: (s, x, d) => {
      x.routerId = single(s, d)?.text;
    },
    vrrp_mcast_group4: (s, x, d) => {
      const t = single(s, d);
      const a = ip(t, d, 'vrrp_mcast_group4');
      if (a === undefined || t === undefined) return;
      if (a.family !== 'inet' || !/^2(2[4-9]|3\d)\./.test(a.address))
        d.error(t, `vrrp_mcast_group4 must be an IPv4 multicast address, got ${a.address}`);
      else x.mcastGroup4 = a.address;
    },
    vrrp_mcast_group6: (s, x, d) => {
      const t = single(s, d);
      const a = ip(t, d, 'vrrp_mcast_group6');
      if (a === undefined || t === undefined) return;
      if (a.family !== 'inet6' || !a.address.startsWith('ff'))
        d.error(t, `vrrp_mcast_group6 must be an IPv6 multicast address, got ${a.address}`);
      else x.mcastGroup6 = a.address;
    },
    vrrp_version: (s, x, d) => {
      x.vrrpVersion = int(single(s, d), d, 'vrrp_version', 2, 3) as 2 | 3 | undefined;
    },
    lvs_flush: (s, x, d) => {
      if (arity(s, d, 0)) x.lvsFlush = true;
    },
    lvs_flush_onstop: (s, x, d) => {
      if (arity(s, d, 0, 1)) x.lvsFlushOnStop = true;
    },
    lvs_flush_on_stop: (s, x, d) => {
      if (arity(s, d, 0, 1)) x.lvsFlushOnStop = true;
    },
    lvs_timeouts: (s, x, d) => {
      if (!arity(s, d, 2, 6)) return;
      for (let i = 0; i < s.args.length; i += 2) {
        const key = s.args[i] as Token;
        const value = int(s.args[i + 1], d, `lvs_timeouts ${key.text}`, 1, TIMEOUT_MAX_S);
        if (s.args[i + 1] === undefined) d.error(key, `lvs_timeouts ${key.text} needs a number of seconds`);
        if (key.text === 'tcp') x.timeouts.tcp = value;
        else if (key.text === 'tcpfin' || key.text === 'tcp_fin') x.timeouts.tcpFin = value;
        else if (key.text === 'udp') x.timeouts.udp = value;
        else d.error(key, `lvs_timeouts takes tcp, tcpfin and udp, got ${quote(key.text)}`);
      }
    },
    lvs_sync_daemon: (s, x, d) => readSyncDaemon(s, x, d),
  },
  GLOBAL_DROPPED,
);

/** `lvs_sync_daemon IFACE [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group ADDR]`. */
function readSyncDaemon(s: Statement, x: GlobalDraft, d: Diagnostics): void {
  if (x.syncDaemon !== undefined) {
    // keepalived's lvs_syncd_handler (core/global_parser.c): "has already been specified - ignoring"
    d.warn(
      s.keyword,
      `a second lvs_sync_daemon is ignored, as keepalived ignores it: the first (line ${x.syncDaemon.at.line}) stays`,
    );
    return;
  }
  if (!arity(s, d, 1, 14)) return;
  const [iface, ...rest] = s.args as Token[];
  let instance: string | null = null;
  let syncId: number | null = null;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] as Token;
    const value = rest[i + 1];
    if (word.text === 'inst') {
      instance = value?.text ?? d.error(word, 'inst needs a vrrp_instance name') ?? null;
      i++;
    } else if (word.text === 'id') {
      syncId = int(value, d, 'lvs_sync_daemon id', 0, 255) ?? null;
      if (value === undefined) d.error(word, 'id needs a number');
      i++;
    } else if (word.text === 'maxlen') {
      d.warn(
        word,
        'lvs_sync_daemon maxlen is dropped: the kernel sizes sync messages from the interface MTU',
      );
      i++;
    } else if (['port', 'ttl', 'group'].includes(word.text)) {
      d.error(
        word,
        `lvs_sync_daemon ${word.text} is not supported: ipvsd uses the kernel defaults (UDP 8848, group 224.0.0.81), which the backup must share`,
      );
      i++;
    } else if (i === 0 && instance === null) {
      instance = word.text;
    } else {
      d.error(word, `unexpected ${quote(word.text)} in lvs_sync_daemon`);
    }
  }
  x.syncDaemon = { interface: (iface as Token).text, instance, syncId, at: s.keyword };
}

export function readGlobal(s: Statement, x: GlobalDraft, d: Diagnostics): void {
  if (!arity(s, d, 0) || s.block === null) {
    if (s.block === null) d.error(s.keyword, 'global_defs needs a block ({ ... })');
    return;
  }
  walk(s.block, 'global_defs', GLOBAL_HANDLERS, GLOBAL_DROPPED, x, d);
}
