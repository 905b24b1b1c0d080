/**
 * vrrp_script, vrrp_instance and vrrp_sync_group blocks to drafts of ipvsd's `vrrp_scripts`,
 * `vrrp_instances` and `vrrp_sync_groups`. Values are converted and checked here; what depends on
 * other blocks (the VRRP version from global_defs, script weights, sync group membership) is
 * settled in finishVrrp once everything has been read.
 */
import { quote } from '../../errors.js';
import { parseCidr } from '../../sys/ip-address.js';
import { readRoute, readRule, readTrackFileRef, type TrackFileRefDraft } from './convert-vrrp-extra.js';
import type { Diagnostics, Place } from './diagnostics.js';
import type { Statement } from './parser.js';
import type { Token } from './tokenizer.js';
import { arity, command, int, ip, single, timerMs } from './values.js';
import {
  type DroppedTable,
  type Handlers,
  listEntries,
  needsBlock,
  refuse,
  register,
  walk,
  warn,
} from './walk.js';

export interface Located<T> {
  readonly value: T;
  readonly at: Place;
}

export interface ScriptDraft {
  readonly name: string;
  readonly at: Place;
  argv?: string[];
  intervalMs?: number;
  timeoutMs?: number;
  weight?: number;
  rise?: number;
  fall?: number;
}

export interface Vip {
  readonly cidr: string;
  readonly family: 'inet' | 'inet6';
  readonly dev: Located<string> | null;
  readonly label?: string;
  readonly at: Place;
}

export interface NotifyDrafts {
  master?: Located<string[]>;
  backup?: Located<string[]>;
  fault?: Located<string[]>;
  stop?: Located<string[]>;
  any?: Located<string[]>;
}

export interface InstanceDraft {
  readonly name: string;
  readonly at: Place;
  state?: 'master' | 'backup';
  interface?: Located<string>;
  virtualRouterId?: number;
  priority?: number;
  advertMs?: Located<number>;
  version?: 2 | 3;
  preempt?: boolean;
  preemptDelayMs?: number;
  /** Where nopreempt / preempt_delay were written (keepalived may clear them, with a warning there). */
  nopreemptAt?: Place;
  preemptDelayAt?: Place;
  stateAt?: Place;
  authentication?: { type?: 'pass' | 'ah'; unknownType?: boolean; password?: string; at: Place };
  vips: Vip[];
  unicastSrcIp?: string;
  unicastPeers: string[];
  trackInterfaces: string[];
  trackScripts: { name: string; weight: number | null; at: Place }[];
  notify: NotifyDrafts;
  /** The old instance-level `lvs_sync_daemon_interface`. */
  syncDaemonInterface?: Located<string>;
  excluded: Vip[];
  /** use_vmac: the name given, or null for keepalived's `vrrp.VRID`. */
  useVmac?: Located<string | null>;
  vmacXmitBase?: boolean;
  dontTrackPrimary?: boolean;
  /** track_interface lines with a weight (their names are in trackInterfaces too). */
  weightedInterfaces: { name: string; weight: number; reverse: boolean; at: Place }[];
  trackFiles: TrackFileRefDraft[];
  /** The instance's mcast_dst_ip (overrides global_defs' vrrp_mcast_group4/6). */
  mcastDst?: Located<string>;
  virtualRoutes: Record<string, unknown>[];
  virtualRules: Record<string, unknown>[];
}

export interface GroupDraft {
  readonly name: string;
  readonly at: Place;
  members: Located<string>[];
  trackInterfaces: Located<string>[];
  trackScripts: Located<string>[];
  notify: NotifyDrafts;
}

const SCRIPT_DROPPED: DroppedTable = {
  user: warn(
    'ipvsd runs VRRP scripts as its own user (root); run them under another user with setpriv/runuser inside the script',
  ),
  init_fail: refuse(
    'ipvsd starts every tracked script as succeeding; without init_fail the instance could claim MASTER before the first run',
  ),
};

const SCRIPT_HANDLERS = register<ScriptDraft>(
  ['vrrp_script'],
  {
    script: (s, x, d) => {
      if (arity(s, d, 1, 64)) x.argv = command(s.args, s.keyword, d, 'script');
    },
    interval: (s, x, d) => {
      x.intervalMs = timerMs(single(s, d), d, 'interval');
    },
    timeout: (s, x, d) => {
      x.timeoutMs = timerMs(single(s, d), d, 'timeout');
    },
    weight: (s, x, d) => {
      if (!arity(s, d, 1, 2)) return;
      if (s.args[1] !== undefined) {
        d.error(
          s.args[1],
          `weight ... ${s.args[1].text} is not supported: ipvsd has no reversed script weights`,
        );
      }
      x.weight = int(s.args[0], d, 'weight', -253, 253);
    },
    rise: (s, x, d) => {
      x.rise = int(single(s, d), d, 'rise', 1, 2 ** 31 - 1);
    },
    fall: (s, x, d) => {
      x.fall = int(single(s, d), d, 'fall', 1, 2 ** 31 - 1);
    },
  },
  SCRIPT_DROPPED,
);

export function readScript(s: Statement, d: Diagnostics): ScriptDraft | undefined {
  if (!arity(s, d, 1) || !needsBlock(s, d)) return undefined;
  const draft: ScriptDraft = { name: (s.args[0] as Token).text, at: s.keyword };
  walk(s.block, `vrrp_script ${draft.name}`, SCRIPT_HANDLERS, SCRIPT_DROPPED, draft, d);
  if (draft.argv === undefined) return d.error(s.keyword, `vrrp_script ${draft.name} has no script`);
  return draft;
}

/** A notify keyword: the command, plus an optional user (and group) ipvsd cannot honour. */
function notifyCommand(s: Statement, d: Diagnostics): Located<string[]> | undefined {
  if (!arity(s, d, 1, 3)) return undefined;
  const [script, user] = s.args;
  if (user !== undefined) {
    d.warn(
      user,
      `the user ${quote(user.text)} of ${s.keyword.text} is dropped: ipvsd runs notify scripts as its own user`,
    );
  }
  const argv = command([script as Token], s.keyword, d, s.keyword.text);
  return argv === undefined ? undefined : { value: argv, at: s.keyword };
}

const NOTIFY_DROPPED: DroppedTable = {
  notify_deleted: refuse('ipvsd has no deleted notify script; it would never run'),
  notify_master_rx_lower_pri: refuse('ipvsd has no such notify script; it would never run'),
  smtp_alert: warn('ipvsd sends no mail; watch its metrics or logs instead'),
  notify_priority_changes: warn('ipvsd has no notify FIFO'),
};

const notifyHandlers = <D extends { notify: NotifyDrafts }>(): Handlers<D> => ({
  notify_master: (s, x, d) => {
    x.notify.master = notifyCommand(s, d);
  },
  notify_backup: (s, x, d) => {
    x.notify.backup = notifyCommand(s, d);
  },
  notify_fault: (s, x, d) => {
    x.notify.fault = notifyCommand(s, d);
  },
  notify_stop: (s, x, d) => {
    x.notify.stop = notifyCommand(s, d);
  },
  notify: (s, x, d) => {
    x.notify.any = notifyCommand(s, d);
  },
});

/** `ADDR[/LEN] [dev IF] [label L] [brd B] [scope S] ...`, one or more per entry of virtual_ipaddress. */
function readVips(entry: Statement, d: Diagnostics): Vip[] {
  const words = [entry.keyword, ...entry.args];
  const vips: Vip[] = [];
  let i = 0;
  while (i < words.length) {
    const addr = words[i] as Token;
    i++;
    let cidr: ReturnType<typeof parseCidr>;
    try {
      cidr = parseCidr(addr.text);
    } catch {
      d.error(addr, `virtual IP address must be ADDRESS[/PREFIX], got ${quote(addr.text)}`);
      return vips;
    }
    let dev: Located<string> | null = null;
    let label: string | undefined;
    while (i < words.length) {
      const option = words[i] as Token;
      if (looksLikeAddress(option.text)) break; // one-line blocks list several addresses
      i++;
      const value = words[i];
      const takesValue = [
        'dev',
        'label',
        'brd',
        'broadcast',
        'scope',
        'peer',
        'preferred_lft',
        'track_group',
      ];
      if (takesValue.includes(option.text)) {
        if (value === undefined) {
          d.error(option, `${option.text} needs a value`);
          break;
        }
        i++;
        if (option.text === 'dev') dev = { value: value.text, at: value };
        else if (option.text === 'label' && cidr.family === 'inet') label = value.text;
        else if (
          option.text === 'label' ||
          option.text === 'preferred_lft' ||
          option.text === 'brd' ||
          option.text === 'broadcast'
        ) {
          d.warn(
            option,
            `"${option.text} ${value.text}" of virtual IP ${addr.text} is dropped: ipvsd adds the address without it`,
          );
        } else if (option.text === 'scope' && value.text === 'global') {
          // the default scope
        } else {
          d.error(
            option,
            `"${option.text} ${value.text}" of virtual IP ${addr.text} is not supported by ipvsd`,
          );
        }
      } else if (
        ['no_track', 'home', '-nodad', 'nodad', 'mngtmpaddr', 'noprefixroute', 'autojoin'].includes(
          option.text,
        )
      ) {
        d.warn(
          option,
          `${quote(option.text)} of virtual IP ${addr.text} is dropped: ipvsd adds the address without it`,
        );
      } else {
        d.error(option, `${quote(option.text)} of virtual IP ${addr.text} is not supported by ipvsd`);
      }
    }
    const prefix = `${cidr.address}/${cidr.prefixLength}`;
    vips.push({
      cidr: prefix,
      family: cidr.family,
      dev,
      ...(label !== undefined ? { label } : {}),
      at: addr,
    });
  }
  return vips;
}

function looksLikeAddress(text: string): boolean {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
}

const INSTANCE_DROPPED: DroppedTable = {
  ...NOTIFY_DROPPED,
  garp_master_delay: warn('ipvsd sends its gratuitous ARP / NA burst on becoming MASTER with its own timing'),
  garp_master_repeat: warn(
    'ipvsd sends its gratuitous ARP / NA burst on becoming MASTER with its own timing',
  ),
  garp_lower_prio_delay: warn(
    'ipvsd sends its gratuitous ARP / NA burst on becoming MASTER with its own timing',
  ),
  garp_lower_prio_repeat: warn(
    'ipvsd sends its gratuitous ARP / NA burst on becoming MASTER with its own timing',
  ),
  garp_master_refresh: warn('ipvsd does not refresh gratuitous ARP while MASTER'),
  garp_master_refresh_repeat: warn('ipvsd does not refresh gratuitous ARP while MASTER'),
  garp_extra_if: warn('ipvsd sends gratuitous ARP only on the instance interface'),
  mcast_src_ip: warn('ipvsd sends multicast adverts from the interface primary address'),
  unicast_ttl: warn('ipvsd sends unicast adverts with TTL 255'),
  check_unicast_src: warn('ipvsd does not check the source of unicast adverts against the peers'),
  skip_check_adv_addr: warn('ipvsd does not compare the addresses in adverts'),
  strict_mode: warn(
    'ipvsd installs no no_accept firewall rules: its VIPs accept traffic (what an LVS director needs)',
  ),
  accept: warn('ipvsd always accepts traffic to its VIPs'),
  no_accept: warn(
    'ipvsd installs no no_accept firewall rules: its VIPs accept traffic (what an LVS director needs)',
  ),
  native_ipv6: warn('deprecated in keepalived: the addresses decide the family'),
  debug: warn('not implemented in keepalived either'),
  kernel_rx_buf_size: warn('ipvsd sizes its own socket buffers'),
  linkbeat_use_polling: warn('ipvsd watches links through netlink'),
  lower_prio_no_advert: warn('ipvsd follows the RFC here'),
  higher_prio_send_advert: warn('ipvsd follows the RFC here'),
  use_vmac_addr: refuse('ipvsd sends gratuitous ARP for the VMAC only from the VMAC'),
  use_ipvlan: refuse('ipvsd has no ipvlan interfaces'),
  vrf: refuse('ipvsd does not run VRRP in a VRF'),
  track_process: refuse('ipvsd has no tracked processes; track them with a vrrp_script'),
  track_bfd: refuse('ipvsd has no BFD'),
  track_src_ip: refuse('ipvsd does not track the source address'),
  no_virtual_ipaddress: refuse('ipvsd needs the VIPs in virtual_ipaddress'),
  promote_secondaries: refuse('ipvsd does not set promote_secondaries; removing one VIP could remove others'),
  down_timer_adverts: refuse('ipvsd uses the RFC master-down interval (3 adverts); the peers must agree'),
  timer_expired_backup: refuse('ipvsd has no such timer'),
  v3_checksum_as_v2: refuse('ipvsd computes the RFC 5798 checksum; the peers would drop its adverts'),
  old_unicast_checksum: refuse('ipvsd computes the RFC 5798 checksum; the peers would drop its adverts'),
  unicast_fault_no_peer: refuse('ipvsd has no such option'),
  auth_hmac: refuse('ipvsd has no HMAC authentication; the peers would drop its adverts'),
};

const INSTANCE_HANDLERS = register<InstanceDraft>(
  ['vrrp_instance'],
  {
    ...notifyHandlers<InstanceDraft>(),
    // keepalived's vrrp_state_handler (vrrp/vrrp_parser.c): exact words; MASTER always wins,
    // BACKUP after MASTER is ignored, anything else (`master`, `SLAVE`) is taken as BACKUP.
    state: (s, x, d) => {
      const t = single(s, d);
      if (t === undefined) return;
      x.stateAt ??= s.keyword;
      if (t.text === 'MASTER') x.state = 'master';
      else if (t.text === 'BACKUP') {
        if (x.state === 'master')
          d.warn(
            t,
            'state BACKUP after state MASTER is ignored, as keepalived ignores it: the state stays MASTER',
          );
        else x.state = 'backup';
      } else {
        d.warn(
          t,
          `unknown state ${quote(t.text)} is taken as BACKUP, as keepalived takes it (it knows only MASTER and BACKUP, in capitals)`,
        );
        x.state = 'backup';
      }
    },
    interface: (s, x, d) => {
      const t = single(s, d);
      if (t !== undefined) x.interface = { value: t.text, at: t };
    },
    virtual_router_id: (s, x, d) => {
      x.virtualRouterId = int(single(s, d), d, 'virtual_router_id', 1, 255);
    },
    priority: (s, x, d) => {
      x.priority = int(single(s, d), d, 'priority', 1, 255);
    },
    advert_int: (s, x, d) => {
      const t = single(s, d);
      const ms = timerMs(t, d, 'advert_int');
      if (ms !== undefined && t !== undefined) x.advertMs = { value: ms, at: t };
    },
    version: (s, x, d) => {
      x.version = int(single(s, d), d, 'version', 2, 3) as 2 | 3 | undefined;
    },
    // keepalived's handlers read no argument: `nopreempt 1` is `nopreempt` (vrrp_nopreempt_handler).
    nopreempt: (s, x, d) => {
      ignoredWords(s, d);
      x.preempt = false;
      x.nopreemptAt = s.keyword;
    },
    preempt: (s, x, d) => {
      ignoredWords(s, d);
      x.preempt = true;
    },
    preempt_delay: (s, x, d) => {
      x.preemptDelayMs = timerMs(single(s, d), d, 'preempt_delay');
      x.preemptDelayAt = s.keyword;
    },
    authentication: (s, x, d) => {
      if (!needsBlock(s, d)) return;
      const auth: NonNullable<InstanceDraft['authentication']> = { at: s.keyword };
      walk(s.block, 'authentication', AUTH_HANDLERS, {}, auth, d);
      x.authentication = auth;
    },
    virtual_ipaddress: (s, x, d) => {
      for (const entry of listEntries(s, d)) x.vips.push(...readVips(entry, d));
    },
    unicast_src_ip: (s, x, d) => {
      x.unicastSrcIp = ip(single(s, d), d, 'unicast_src_ip')?.address;
    },
    unicast_peer: (s, x, d) => {
      for (const entry of listEntries(s, d)) {
        const words = [entry.keyword, ...entry.args];
        for (let i = 0; i < words.length; i++) {
          const word = words[i] as Token;
          if (word.text === 'min_ttl' || word.text === 'max_ttl') {
            d.warn(
              word,
              `${quote(word.text)} of unicast_peer is dropped: ipvsd does not check the TTL of unicast adverts`,
            );
            i++;
            continue;
          }
          const peer = ip(word, d, 'unicast peer');
          if (peer !== undefined) x.unicastPeers.push(peer.address);
        }
      }
    },
    track_interface: (s, x, d) => {
      for (const entry of listEntries(s, d)) {
        if (entry.args.length > 0) {
          // vrrp_track.c alloc_track_if: `IF weight N [reverse]`, N in -254..254, ±254 → ±253.
          const [kw, value, option] = entry.args;
          if (kw?.text !== 'weight') {
            d.error(
              kw as Token,
              `expected "weight N" after the interface name, got ${quote(kw?.text ?? '')}`,
            );
            continue;
          }
          let weight = int(value, d, 'weight', -254, 254);
          if (weight === undefined) continue;
          if (weight === 254 || weight === -254) {
            d.warn(
              value as Token,
              `weight ${weight} is taken as ${weight > 0 ? 253 : -253} (as keepalived does)`,
            );
            weight = weight > 0 ? 253 : -253;
          }
          if (option !== undefined && option.text !== 'reverse') {
            d.warn(option, `unknown weight option ${quote(option.text)} is ignored (as keepalived does)`);
          }
          x.weightedInterfaces.push({
            name: entry.keyword.text,
            weight,
            reverse: option?.text === 'reverse',
            at: entry.keyword,
          });
        }
        x.trackInterfaces.push(entry.keyword.text);
      }
    },
    track_file: (s, x, d) => {
      for (const entry of listEntries(s, d)) {
        const ref = readTrackFileRef(entry, d);
        if (ref !== undefined) x.trackFiles.push(ref);
      }
    },
    virtual_ipaddress_excluded: (s, x, d) => {
      for (const entry of listEntries(s, d)) x.excluded.push(...readVips(entry, d));
    },
    virtual_routes: (s, x, d) => {
      for (const entry of listEntries(s, d)) {
        const route = readRoute(entry, d);
        if (route !== undefined) x.virtualRoutes.push(route);
      }
    },
    virtual_rules: (s, x, d) => {
      for (const entry of listEntries(s, d)) {
        const rule = readRule(entry, d);
        if (rule !== undefined) x.virtualRules.push(rule);
      }
    },
    use_vmac: (s, x, d) => {
      if (!arity(s, d, 0, 1)) return;
      const t = s.args[0];
      x.useVmac = { value: t?.text ?? null, at: t ?? s.keyword };
    },
    vmac_xmit_base: (s, x, d) => {
      if (arity(s, d, 0)) x.vmacXmitBase = true;
    },
    dont_track_primary: (s, x, d) => {
      if (arity(s, d, 0)) x.dontTrackPrimary = true;
    },
    mcast_dst_ip: (s, x, d) => {
      const t = single(s, d);
      const a = ip(t, d, 'mcast_dst_ip');
      if (a !== undefined && t !== undefined) x.mcastDst = { value: a.address, at: t };
    },
    track_script: (s, x, d) => {
      for (const entry of listEntries(s, d)) {
        let weight: number | null = null;
        if (entry.args.length > 0) {
          const [kw, value, reverse] = entry.args;
          if (kw?.text !== 'weight') {
            d.error(kw as Token, `expected "weight N" after the script name, got ${quote(kw?.text ?? '')}`);
            continue;
          }
          if (reverse !== undefined && reverse.text !== 'noreverse') {
            d.error(reverse, `${quote(reverse.text)} is not supported: ipvsd has no reversed script weights`);
          }
          weight = int(value, d, 'weight', -253, 253) ?? null;
        }
        x.trackScripts.push({ name: entry.keyword.text, weight, at: entry.keyword });
      }
    },
    lvs_sync_daemon_interface: (s, x, d) => {
      const t = single(s, d);
      if (t !== undefined) x.syncDaemonInterface = { value: t.text, at: t };
    },
  },
  INSTANCE_DROPPED,
);

/** Words after a keyword whose keepalived handler reads none: ignored there, so here too, with a warning. */
function ignoredWords(s: Statement, d: Diagnostics): void {
  const extra = s.args[0];
  if (extra !== undefined)
    d.warn(extra, `${quote(extra.text)} after ${s.keyword.text} is ignored, as keepalived ignores it`);
}

const AUTH_HANDLERS = register<NonNullable<InstanceDraft['authentication']>>(['authentication'], {
  auth_type: (s, x, d) => {
    const t = single(s, d);
    if (t === undefined) return;
    // vrrp_auth_type_handler: exact words; anything else leaves the instance without authentication
    if (t.text === 'PASS' || t.text === 'AH') x.type = t.text === 'PASS' ? 'pass' : 'ah';
    else {
      x.unknownType = true;
      d.warn(
        t,
        `unknown auth_type ${quote(t.text)}: keepalived then sends adverts without authentication (it knows only PASS and AH, in capitals), and so does the converted instance`,
      );
    }
  },
  auth_pass: (s, x, d) => {
    const t = single(s, d);
    if (t === undefined) return;
    // keepalived sends the first 8 bytes (RFC 2338's field); ipvsd refuses longer ones.
    const bytes = Buffer.from(t.text);
    if (bytes.length > 8) {
      d.warn(
        t,
        'auth_pass is longer than 8 bytes: keepalived uses only the first 8, so the converted password is those 8',
      );
    }
    x.password = bytes.subarray(0, 8).toString();
  },
});

export function readInstance(s: Statement, d: Diagnostics): InstanceDraft | undefined {
  if (!arity(s, d, 1) || !needsBlock(s, d)) return undefined;
  const draft: InstanceDraft = {
    name: (s.args[0] as Token).text,
    at: s.keyword,
    vips: [],
    unicastPeers: [],
    trackInterfaces: [],
    trackScripts: [],
    notify: {},
    excluded: [],
    weightedInterfaces: [],
    trackFiles: [],
    virtualRoutes: [],
    virtualRules: [],
  };
  walk(s.block, `vrrp_instance ${draft.name}`, INSTANCE_HANDLERS, INSTANCE_DROPPED, draft, d);
  if (draft.interface === undefined) d.error(s.keyword, `vrrp_instance ${draft.name} has no interface`);
  if (draft.virtualRouterId === undefined)
    d.error(s.keyword, `vrrp_instance ${draft.name} has no virtual_router_id`);
  return draft;
}

const GROUP_DROPPED: DroppedTable = {
  ...NOTIFY_DROPPED,
  global_tracking: warn('deprecated in keepalived; track on the group instead'),
  sync_group_tracking_weight: refuse('ipvsd has no weighted tracking in sync groups'),
  track_file: refuse(
    "a sync group's track_file is not supported by ipvsd: track the file in each member vrrp_instance",
  ),
  track_process: refuse('ipvsd has no tracked processes; track them with a vrrp_script'),
  track_bfd: refuse('ipvsd has no BFD'),
};

const GROUP_HANDLERS = register<GroupDraft>(
  ['vrrp_sync_group'],
  {
    ...notifyHandlers<GroupDraft>(),
    group: (s, x, d) => {
      for (const entry of listEntries(s, d)) {
        for (const word of [entry.keyword, ...entry.args]) x.members.push({ value: word.text, at: word });
      }
    },
    track_interface: (s, x, d) => {
      for (const entry of listEntries(s, d)) {
        if (entry.args.length > 0) {
          d.error(entry.args[0] as Token, 'a weighted track_interface is not supported by ipvsd');
        } else x.trackInterfaces.push({ value: entry.keyword.text, at: entry.keyword });
      }
    },
    track_script: (s, x, d) => {
      for (const entry of listEntries(s, d)) {
        if (entry.args.length > 0) {
          d.error(
            entry.args[0] as Token,
            'a weighted track_script on a sync group is not supported by ipvsd',
          );
        } else x.trackScripts.push({ value: entry.keyword.text, at: entry.keyword });
      }
    },
  },
  GROUP_DROPPED,
);

export function readGroup(s: Statement, d: Diagnostics): GroupDraft | undefined {
  if (!arity(s, d, 1) || !needsBlock(s, d)) return undefined;
  const draft: GroupDraft = {
    name: (s.args[0] as Token).text,
    at: s.keyword,
    members: [],
    trackInterfaces: [],
    trackScripts: [],
    notify: {},
  };
  walk(s.block, `vrrp_sync_group ${draft.name}`, GROUP_HANDLERS, GROUP_DROPPED, draft, d);
  if (draft.members.length === 0)
    d.error(s.keyword, `vrrp_sync_group ${draft.name} has no group { ... } of instances`);
  return draft;
}
