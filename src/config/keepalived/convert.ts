/**
 * keepalived.conf (already read into statements) to ipvsd's config, as a plain object in the
 * YAML's key order plus the comments that say where each entry came from. The top level is
 * dispatched here, the blocks are read by convert-global/-vrrp/-lvs, and what spans blocks is
 * settled here: the VRRP version default, tracked script weights, sync group notify scripts and
 * tracking, and the sync daemon's instance and id.
 */

import { type GlobalDraft, readGlobal } from './convert-global.js';
import {
  readVirtualServer,
  readVirtualServerGroup,
  type VirtualServerDraft,
  type VirtualServerGroupDraft,
  virtualServerOut,
} from './convert-lvs.js';
import {
  type GroupDraft,
  type InstanceDraft,
  type NotifyDrafts,
  readGroup,
  readInstance,
  readScript,
  type ScriptDraft,
  type Vip,
} from './convert-vrrp.js';
import { readTrackFileBlock, type TrackFileDraft, trackFileOut } from './convert-vrrp-extra.js';
import type { Diagnostics, Place } from './diagnostics.js';
import type { Statement } from './parser.js';
import type { Token } from './tokenizer.js';
import { duration } from './values.js';
import { type DroppedTable, refuse, register, TOP_LEVEL, walk, warn } from './walk.js';

type Obj = Record<string, unknown>;

/** A comment for the entry at `path` in the output (map keys and list indexes). */
export interface SourceComment {
  readonly path: readonly (string | number)[];
  readonly at: Place;
  readonly what: string;
}

export interface Conversion {
  readonly config: Obj;
  readonly comments: SourceComment[];
}

interface Drafts {
  global: GlobalDraft;
  globalAt?: Place;
  scripts: ScriptDraft[];
  instances: InstanceDraft[];
  groups: GroupDraft[];
  virtualServers: VirtualServerDraft[];
  /** Top-level track_file blocks (FILE_CHECK names them). */
  trackFiles: TrackFileDraft[];
  virtualServerGroups: VirtualServerGroupDraft[];
}

const TOP_DROPPED: DroppedTable = {
  static_ipaddress: refuse(
    'ipvsd adds no static addresses; configure them with the system network configuration',
  ),
  static_routes: refuse('ipvsd adds no static routes; configure them with the system network configuration'),
  static_rules: refuse('ipvsd adds no static rules; configure them with the system network configuration'),
  static_track_group: refuse('ipvsd has no static track groups'),
  garp_group: warn('ipvsd sends its gratuitous ARP / NA burst on becoming MASTER with its own timing'),
  linkbeat_interfaces: warn('ipvsd watches links through netlink'),
  interface_up_down_delays: refuse(
    'ipvsd acts on link changes at once; the instance would go to FAULT sooner',
  ),
  SSL: refuse('ipvsd makes HTTPS checks without a client certificate'),
  bfd_instance: refuse('ipvsd has no BFD'),
  vrrp_track_process: refuse('ipvsd has no tracked processes; track them with a vrrp_script'),
  track_process: refuse('ipvsd has no tracked processes; track them with a vrrp_script'),
  net_namespace: refuse('ipvsd runs in the namespace it is started in (use systemd NetworkNamespacePath=)'),
};

const TOP_HANDLERS = register<Drafts>(
  [TOP_LEVEL],
  {
    global_defs: (s, x, d) => {
      x.globalAt ??= s.keyword;
      readGlobal(s, x.global, d);
    },
    vrrp_script: (s, x, d) => push(x.scripts, readScript(s, d)),
    vrrp_instance: (s, x, d) => push(x.instances, readInstance(s, d)),
    vrrp_sync_group: (s, x, d) => push(x.groups, readGroup(s, d)),
    virtual_server: (s, x, d) => push(x.virtualServers, readVirtualServer(s, d)),
    track_file: (s, x, d) => push(x.trackFiles, readTrackFileBlock(s, d)),
    vrrp_track_file: (s, x, d) => push(x.trackFiles, readTrackFileBlock(s, d)),
    virtual_server_group: (s, x, d) => push(x.virtualServerGroups, readVirtualServerGroup(s, d)),
  },
  TOP_DROPPED,
);

function push<T>(list: T[], item: T | undefined): void {
  if (item !== undefined) list.push(item);
}

/** Converts the statements as they come (each top-level block is read, then let go). */
export function convert(statements: Iterable<Statement>, d: Diagnostics): Conversion {
  const x: Drafts = {
    global: { timeouts: {} },
    scripts: [],
    instances: [],
    groups: [],
    virtualServers: [],
    trackFiles: [],
    virtualServerGroups: [],
  };
  walk(statements, 'the top level', TOP_HANDLERS, TOP_DROPPED, x, d);
  return build(x, d);
}

function duplicates<T extends { name: string; at: Place }>(
  items: readonly T[],
  what: string,
  d: Diagnostics,
): T[] {
  const seen = new Map<string, T>();
  for (const item of items) {
    const first = seen.get(item.name);
    if (first !== undefined)
      d.error(
        item.at,
        `${what} ${item.name} is defined twice (first at line ${first.at.line} of ${first.at.file})`,
      );
    else seen.set(item.name, item);
  }
  return [...seen.values()];
}

function build(x: Drafts, d: Diagnostics): Conversion {
  const comments: SourceComment[] = [];
  const config: Obj = {};
  const scripts = duplicates(x.scripts, 'vrrp_script', d);
  const instances = duplicates(x.instances, 'vrrp_instance', d);
  const groups = duplicates(x.groups, 'vrrp_sync_group', d);
  settleGroups(groups, instances, d);

  const director = directorOut(x, instances, d);
  if (director !== undefined) {
    config.director = director;
    if (x.globalAt !== undefined) comments.push({ path: ['director'], at: x.globalAt, what: 'global_defs' });
  }

  const trackedWeights = scriptsOut(scripts, instances, groups, d);
  if (scripts.length > 0) {
    config.vrrp_scripts = Object.fromEntries(scripts.map((s) => [s.name, scriptOut(s)]));
    for (const s of scripts)
      comments.push({ path: ['vrrp_scripts', s.name], at: s.at, what: `vrrp_script ${s.name}` });
  }
  const trackFiles = duplicates(x.trackFiles, 'track_file', d);
  settleTrackFiles(trackFiles, instances, d);
  if (trackFiles.length > 0) {
    config.vrrp_track_files = Object.fromEntries(trackFiles.map((t) => [t.name, trackFileOut(t)]));
    for (const t of trackFiles)
      comments.push({ path: ['vrrp_track_files', t.name], at: t.at, what: `track_file ${t.name}` });
  }
  if (instances.length > 0) {
    config.vrrp_instances = Object.fromEntries(
      instances.map((i) => [i.name, instanceOut(i, x.global, trackedWeights, d)]),
    );
    for (const i of instances)
      comments.push({ path: ['vrrp_instances', i.name], at: i.at, what: `vrrp_instance ${i.name}` });
  }
  if (groups.length > 0) {
    config.vrrp_sync_groups = Object.fromEntries(
      groups.map((g) => {
        const notify = notifyOut(g.notify);
        return [
          g.name,
          { instances: g.members.map((m) => m.value), ...(notify !== undefined ? { notify } : {}) },
        ];
      }),
    );
    for (const g of groups)
      comments.push({ path: ['vrrp_sync_groups', g.name], at: g.at, what: `vrrp_sync_group ${g.name}` });
  }
  const vsGroups = duplicates(x.virtualServerGroups, 'virtual_server_group', d);
  if (vsGroups.length > 0) {
    config.virtual_server_groups = Object.fromEntries(vsGroups.map((g) => [g.name, g.members]));
    for (const g of vsGroups)
      comments.push({
        path: ['virtual_server_groups', g.name],
        at: g.at,
        what: `virtual_server_group ${g.name}`,
      });
  }
  const summaries = new Map(vsGroups.map((g) => [g.name, g.summary]));
  // validate_check_config (check/check_data.c): "has no real servers - ignoring"
  const withReal = x.virtualServers.filter((vs) => {
    if (vs.realServers.length > 0) return true;
    d.warn(vs.at, `virtual_server ${vs.label} has no real servers: dropped, as keepalived drops it`);
    return false;
  });
  const trackFileByName = new Map(trackFiles.map((t) => [t.name, t]));
  const virtualServers = withReal.map((vs) => virtualServerOut(vs, d, summaries, trackFileByName));
  if (virtualServers.length > 0) {
    config.virtual_servers = virtualServers;
    withReal.forEach((vs, i) => {
      comments.push({ path: ['virtual_servers', i], at: vs.at, what: `virtual_server ${vs.label}` });
      vs.realServers.forEach((rs, j) => {
        comments.push({
          path: ['virtual_servers', i, 'real_servers', j],
          at: rs.at,
          what: `real_server ${rs.label}`,
        });
      });
    });
  }
  return { config, comments };
}

function directorOut(x: Drafts, instances: readonly InstanceDraft[], d: Diagnostics): Obj | undefined {
  const g = x.global;
  const director: Obj = {};
  if (g.routerId !== undefined) director.router_id = g.routerId;
  // keepalived leaves IPVS services it did not create alone unless lvs_flush is set.
  const ipvs: Obj = { unmanaged: g.lvsFlush === true ? 'remove' : 'keep' };
  if (g.lvsFlushOnStop === true) ipvs.on_stop = 'remove';
  const t = g.timeouts;
  if (t.tcp !== undefined || t.tcpFin !== undefined || t.udp !== undefined) {
    ipvs.timeouts = {
      ...(t.tcp === undefined ? {} : { tcp: `${t.tcp}s` }),
      ...(t.tcpFin === undefined ? {} : { tcp_fin: `${t.tcpFin}s` }),
      ...(t.udp === undefined ? {} : { udp: `${t.udp}s` }),
    };
  }
  if (
    x.virtualServers.length > 0 ||
    g.lvsFlush !== undefined ||
    g.lvsFlushOnStop !== undefined ||
    ipvs.timeouts !== undefined
  ) {
    director.ipvs = ipvs;
  }
  // keepalived keeps the first sync daemon it reads, global or in an instance (lvs_syncd_handler,
  // vrrp_lvs_syncd_handler): "has already been specified - ignoring" for the others.
  const candidates = [
    ...(g.syncDaemon === undefined ? [] : [g.syncDaemon]),
    ...instances.flatMap((i) =>
      i.syncDaemonInterface === undefined
        ? []
        : [
            {
              interface: i.syncDaemonInterface.value,
              instance: i.name,
              syncId: null,
              at: i.syncDaemonInterface.at,
            },
          ],
    ),
  ].sort((a, b) => readingOrder(a.at) - readingOrder(b.at));
  const sync = candidates[0];
  for (const other of candidates.slice(1)) {
    d.warn(
      other.at,
      `a second lvs_sync_daemon is ignored, as keepalived ignores it: the first (${sync?.at.file}:${sync?.at.line}) stays`,
    );
  }
  if (sync !== undefined) {
    const followed = instances.find((i) => i.name === sync.instance);
    if (sync.instance === null) {
      d.error(
        sync.at,
        "lvs_sync_daemon without a vrrp instance (keepalived then runs master and backup sync at once) is not supported: ipvsd's sync daemon follows a VRRP instance or group; name the instance",
      );
    } else if (followed === undefined) {
      d.error(sync.at, `lvs_sync_daemon follows ${sync.instance}, which is not a vrrp_instance`);
    } else {
      // keepalived's sync id defaults to the followed instance's virtual router id; ipvsd's to 0.
      director.sync_daemon = {
        interface: sync.interface,
        sync_id: sync.syncId ?? followed.virtualRouterId ?? 0,
        follow: sync.instance,
      };
    }
  }
  return Object.keys(director).length > 0 ? director : undefined;
}

/** Where a place comes in the reading order (tokens carry their logical line's number). */
function readingOrder(at: Place): number {
  return (at as Partial<Token>).lineId ?? 0;
}

function scriptOut(s: ScriptDraft): Obj {
  const out: Obj = { script: s.argv, interval: duration(s.intervalMs ?? 1000) };
  if (s.timeoutMs !== undefined) out.timeout = duration(s.timeoutMs);
  if (s.rise !== undefined) out.rise = s.rise;
  if (s.fall !== undefined) out.fall = s.fall;
  if (s.weight !== undefined) out.weight = s.weight;
  return out;
}

/**
 * Checks every track_script reference; returns, per instance, the tracked scripts to keep.
 * ipvsd applies a script's own weight, so an instance may not override it; keepalived ignores
 * weighted trackers on sync group members, so those are dropped (with a warning) the same way.
 */
function scriptsOut(
  scripts: readonly ScriptDraft[],
  instances: readonly InstanceDraft[],
  groups: readonly GroupDraft[],
  d: Diagnostics,
): Map<string, string[]> {
  const byName = new Map(scripts.map((s) => [s.name, s]));
  const grouped = new Set(groups.flatMap((g) => g.members.map((m) => m.value)));
  const kept = new Map<string, string[]>();
  for (const i of instances) {
    const names: string[] = [];
    for (const t of i.trackScripts) {
      const script = byName.get(t.name);
      if (script === undefined) {
        d.error(t.at, `track_script ${t.name} is not a vrrp_script`);
        continue;
      }
      const own = script.weight ?? 0;
      const weight = t.weight ?? own;
      if (t.weight !== null && t.weight !== own) {
        d.error(
          t.at,
          `track_script ${t.name} weight ${t.weight} differs from the script's weight ${own}: ipvsd applies the script's weight everywhere; set it in vrrp_script ${t.name}`,
        );
        continue;
      }
      if (grouped.has(i.name) && weight !== 0) {
        d.warn(
          t.at,
          `track_script ${t.name} is dropped: it has weight ${weight} and ${i.name} is in a sync group, where keepalived ignores weighted trackers`,
        );
        continue;
      }
      if (!names.includes(t.name)) names.push(t.name);
    }
    kept.set(i.name, names);
  }
  return kept;
}

const STATES = ['master', 'backup', 'fault'] as const;

/**
 * keepalived's notify scripts, one to one: notify_master/backup/fault/stop and the generic
 * `notify` (ipvsd's `any`, run after the state's own, with INSTANCE|GROUP NAME STATE PRIORITY:
 * vrrp_notify.c send_instance_notifies / send_group_notifies).
 */
function notifyOut(n: NotifyDrafts): Obj | undefined {
  const out: Obj = {};
  for (const state of [...STATES, 'stop', 'any'] as const) {
    const script = n[state];
    if (script !== undefined) out[state] = script.value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Track files: each instance reference must name a track_file block; keepalived ignores (with an
 * error message) a reference to an unknown file or a repeated one (track_file.c
 * vrrp_alloc_track_file), and so does the conversion, with a warning.
 */
function settleTrackFiles(
  files: readonly TrackFileDraft[],
  instances: readonly InstanceDraft[],
  d: Diagnostics,
): void {
  const names = new Set(files.map((f) => f.name));
  for (const i of instances) {
    const seen = new Set<string>();
    i.trackFiles = i.trackFiles.filter((ref) => {
      if (!names.has(ref.name)) {
        d.warn(ref.at, `track file ${ref.name} is not defined: not tracked (as keepalived does)`);
        return false;
      }
      if (seen.has(ref.name)) {
        d.warn(ref.at, `duplicate track_file ${ref.name}: ignored (as keepalived does)`);
        return false;
      }
      seen.add(ref.name);
      return true;
    });
  }
}

/** A VIP as ipvsd writes it: the address, or `{address, dev, label}` when it has either. */
function vipOut(v: Vip, i: InstanceDraft): unknown {
  const dev = v.dev !== null && v.dev.value !== i.interface?.value ? v.dev.value : undefined;
  if (dev === undefined && v.label === undefined) return v.cidr;
  return {
    address: v.cidr,
    ...(dev !== undefined ? { dev } : {}),
    ...(v.label !== undefined ? { label: v.label } : {}),
  };
}

function instanceOut(i: InstanceDraft, g: GlobalDraft, tracked: Map<string, string[]>, d: Diagnostics): Obj {
  const ipv6 = i.vips.some((v) => v.family === 'inet6');
  // keepalived always runs IPv6 instances as version 3, whatever the setting says.
  const version = ipv6 ? 3 : (i.version ?? g.vrrpVersion ?? 2);
  // keepalived's vrrp_complete_instance (vrrp/vrrp.c): no priority means 255 for state MASTER,
  // else 100; no state means MASTER for priority 255, else BACKUP.
  const priority = i.priority ?? (i.state === 'master' ? 255 : 100);
  const state = i.state ?? (priority === 255 ? 'master' : 'backup');
  let preempt = i.preempt;
  let preemptDelayMs = i.preemptDelayMs;
  if (preempt === false && priority === 255) {
    d.warn(
      i.nopreemptAt ?? i.at,
      'nopreempt is cleared: keepalived resets it for priority 255 (the address owner always preempts)',
    );
    preempt = undefined;
  }
  if (state === 'master') {
    if (preempt === false) {
      d.warn(
        i.nopreemptAt ?? i.at,
        'nopreempt is cleared: keepalived clears it for an instance that starts as MASTER',
      );
      preempt = undefined;
    }
    if (preemptDelayMs !== undefined && preemptDelayMs > 0) {
      d.warn(
        i.preemptDelayAt ?? i.at,
        'preempt_delay is cleared: keepalived clears it for an instance that starts as MASTER',
      );
      preemptDelayMs = undefined;
    }
  }
  if (preemptDelayMs !== undefined && preemptDelayMs > 0 && preempt === false) {
    d.warn(i.preemptDelayAt ?? i.at, 'preempt_delay is cleared: keepalived resets it in nopreempt mode');
    preemptDelayMs = undefined;
  }
  const out: Obj = {
    state,
    interface: i.interface?.value,
    virtual_router_id: i.virtualRouterId,
    priority,
  };
  const advert = i.advertMs?.value ?? 1000;
  if (version === 2 && advert % 1000 !== 0 && i.advertMs !== undefined) {
    d.error(
      i.advertMs.at,
      `advert_int ${advert / 1000}s is fractional, which VRRP version 2 cannot carry; add "version 3" (and to the peers)`,
    );
  }
  out.advert_int = duration(advert);
  out.version = version;
  if (preempt !== undefined) out.preempt = preempt;
  if (preemptDelayMs !== undefined) out.preempt_delay = duration(preemptDelayMs);
  const auth = i.authentication;
  if (auth !== undefined && auth.unknownType === true && auth.type === undefined) {
    // warned where auth_type is: keepalived runs the instance without authentication
  } else if (auth !== undefined) {
    if (auth.type === undefined || auth.password === undefined) {
      d.error(auth.at, 'authentication needs auth_type and auth_pass');
    } else if (version === 3) {
      d.warn(auth.at, 'authentication is dropped: VRRP version 3 has none (keepalived ignores it too)');
    } else out.authentication = { type: auth.type, password: auth.password };
  }
  out.virtual_ipaddresses = i.vips.map((v) => vipOut(v, i));
  if (i.excluded.length > 0) out.virtual_ipaddresses_excluded = i.excluded.map((v) => vipOut(v, i));
  if (i.unicastSrcIp !== undefined) out.unicast_src_ip = i.unicastSrcIp;
  if (i.unicastPeers.length > 0) out.unicast_peers = i.unicastPeers;
  if (i.trackInterfaces.length > 0) {
    const weighted = new Map(i.weightedInterfaces.map((w) => [w.name, w]));
    out.track_interfaces = [...new Set(i.trackInterfaces)].map((name) => {
      const w = weighted.get(name);
      if (w === undefined || (w.weight === 0 && !w.reverse)) return name;
      return { interface: name, weight: w.weight, ...(w.reverse ? { reverse: true } : {}) };
    });
  }
  if (i.dontTrackPrimary === true) out.dont_track_primary = true;
  const scripts = tracked.get(i.name) ?? [];
  if (scripts.length > 0) out.track_scripts = scripts;
  if (i.trackFiles.length > 0) {
    out.track_files = i.trackFiles.map((t) =>
      t.weight === undefined
        ? t.name
        : { name: t.name, weight: t.weight, ...(t.reverse !== undefined ? { reverse: t.reverse } : {}) },
    );
  }
  const family = ipv6 ? 'inet6' : 'inet';
  // keepalived: mcast_dst_ip wins over global_defs' group of the instance's family.
  const group = i.mcastDst?.value ?? (family === 'inet' ? g.mcastGroup4 : g.mcastGroup6);
  if (group !== undefined) {
    if (group.includes(':') !== ipv6)
      d.error(i.mcastDst?.at ?? i.at, `mcast_dst_ip ${group} is not of the instance's family`);
    else out.mcast_group = group;
  }
  if (i.useVmac !== undefined) {
    out.use_vmac = i.useVmac.value ?? true;
    if (i.vmacXmitBase === true) out.vmac_xmit_base = true;
    else if (i.unicastPeers.length > 0) {
      // vrrp_parser.c: "unicast with use_vmac requires vmac_xmit_base - setting".
      d.warn(i.useVmac.at, 'use_vmac with unicast_peer: vmac_xmit_base is set (as keepalived does)');
      out.vmac_xmit_base = true;
    }
  } else if (i.vmacXmitBase === true) {
    d.warn(i.at, 'vmac_xmit_base without use_vmac is dropped: it has nothing to do');
  }
  if (i.virtualRoutes.length > 0) out.virtual_routes = i.virtualRoutes;
  if (i.virtualRules.length > 0) out.virtual_rules = i.virtualRules;
  const notify = notifyOut(i.notify);
  if (notify !== undefined) {
    out.notify = notify;
    const specific = [...STATES, 'stop' as const].map((s) => i.notify[s]).find((n) => n !== undefined);
    if (specific !== undefined) {
      d.warn(
        specific.at,
        'ipvsd calls notify_master/backup/fault/stop scripts with four arguments (INSTANCE|GROUP, name, state, priority), as keepalived calls "notify"; a script that reads its arguments must allow them',
      );
    }
  }
  return out;
}

/** Group tracking (interfaces, unweighted scripts) applies to every member, as keepalived does. */
function settleGroups(
  groups: readonly GroupDraft[],
  instances: readonly InstanceDraft[],
  d: Diagnostics,
): void {
  const byName = new Map(instances.map((i) => [i.name, i]));
  for (const g of groups) {
    const members = g.members.flatMap((m) => {
      const instance = byName.get(m.value);
      if (instance === undefined)
        d.error(m.at, `${m.value} in vrrp_sync_group ${g.name} is not a vrrp_instance`);
      return instance === undefined ? [] : [instance];
    });
    if (members.length === 0) continue;
    for (const member of members) {
      for (const t of g.trackInterfaces)
        if (!member.trackInterfaces.includes(t.value)) member.trackInterfaces.push(t.value);
      for (const t of g.trackScripts) member.trackScripts.push({ name: t.value, weight: 0, at: t.at });
    }
    // The group's notify scripts stay the group's (ipvsd sync groups run their own).
  }
}
