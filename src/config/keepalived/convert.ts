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
  type Located,
  type NotifyDrafts,
  readGroup,
  readInstance,
  readScript,
  type ScriptDraft,
} from './convert-vrrp.js';
import type { Diagnostics, Place } from './diagnostics.js';
import type { Statement } from './parser.js';
import { duration } from './values.js';
import { type DroppedTable, refuse, register, walk, warn } from './walk.js';

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
  track_file: refuse('ipvsd has no track files'),
  vrrp_track_file: refuse('ipvsd has no track files'),
  net_namespace: refuse('ipvsd runs in the namespace it is started in (use systemd NetworkNamespacePath=)'),
};

const TOP_HANDLERS = register<Drafts>([], {
  global_defs: (s, x, d) => {
    x.globalAt ??= s.keyword;
    readGlobal(s, x.global, d);
  },
  vrrp_script: (s, x, d) => push(x.scripts, readScript(s, d)),
  vrrp_instance: (s, x, d) => push(x.instances, readInstance(s, d)),
  vrrp_sync_group: (s, x, d) => push(x.groups, readGroup(s, d)),
  virtual_server: (s, x, d) => push(x.virtualServers, readVirtualServer(s, d)),
  virtual_server_group: (s, x, d) => push(x.virtualServerGroups, readVirtualServerGroup(s, d)),
});

function push<T>(list: T[], item: T | undefined): void {
  if (item !== undefined) list.push(item);
}

export function convert(statements: readonly Statement[], d: Diagnostics): Conversion {
  const x: Drafts = {
    global: { timeouts: {} },
    scripts: [],
    instances: [],
    groups: [],
    virtualServers: [],
    virtualServerGroups: [],
  };
  const plain = statements.filter((s) => {
    const word = s.keyword.text;
    if (s.keyword.quoted) return true;
    if (word.startsWith('@')) {
      d.error(
        s.keyword,
        `conditional configuration (${word}) is not supported: pick this director's lines and remove the @ prefixes`,
      );
      return false;
    }
    if (word.startsWith('$')) {
      d.error(s.keyword, 'parameter definitions ($NAME=...) are not supported: substitute the values first');
      return false;
    }
    return true;
  });
  walk(plain, 'the top level', TOP_HANDLERS, TOP_DROPPED, x, d);
  for (const s of allTokensWithDollar(plain)) {
    d.error(s, `parameter substitution (${s.text}) is not supported: substitute the values first`);
  }
  return build(x, d);
}

/** Words that use ${PARAM} substitution, anywhere in the tree. */
function allTokensWithDollar(statements: readonly Statement[]): Statement['keyword'][] {
  const out: Statement['keyword'][] = [];
  const visit = (list: readonly Statement[]) => {
    for (const s of list) {
      for (const t of [s.keyword, ...s.args]) if (/\$\{[A-Za-z_][A-Za-z0-9_]*/.test(t.text)) out.push(t);
      if (s.block !== null) visit(s.block);
    }
  };
  visit(statements);
  return out;
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
  if (instances.length > 0) {
    config.vrrp_instances = Object.fromEntries(
      instances.map((i) => [i.name, instanceOut(i, x.global, trackedWeights, d)]),
    );
    for (const i of instances)
      comments.push({ path: ['vrrp_instances', i.name], at: i.at, what: `vrrp_instance ${i.name}` });
  }
  if (groups.length > 0) {
    config.vrrp_sync_groups = Object.fromEntries(
      groups.map((g) => [g.name, { instances: g.members.map((m) => m.value) }]),
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
  const virtualServers = x.virtualServers.map((vs) => virtualServerOut(vs, d, summaries));
  if (virtualServers.length > 0) {
    config.virtual_servers = virtualServers;
    x.virtualServers.forEach((vs, i) => {
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
  let sync = g.syncDaemon;
  for (const i of instances) {
    if (i.syncDaemonInterface === undefined) continue;
    if (sync !== undefined) {
      d.error(
        i.syncDaemonInterface.at,
        'a second lvs_sync_daemon: the kernel runs one sync daemon per director',
      );
      continue;
    }
    sync = {
      interface: i.syncDaemonInterface.value,
      instance: i.name,
      syncId: null,
      at: i.syncDaemonInterface.at,
    };
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

/** Notify scripts moved from a sync group to a member (their own warning says how they are called). */
const FROM_GROUP = new WeakSet<Located<string[]>>();

/** keepalived's `notify` runs for every state; ipvsd has one script per state. */
function notifyOut(n: NotifyDrafts, owner: string, d: Diagnostics): Obj | undefined {
  const out: Obj = {};
  for (const state of STATES) {
    const own = n[state];
    if (own !== undefined && n.any !== undefined) {
      d.error(
        own.at,
        `${owner} has both notify and notify_${state}: ipvsd runs one script per state; combine them into one script`,
      );
    }
    const script = own ?? n.any;
    if (script !== undefined) out[state] = script.value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function instanceOut(i: InstanceDraft, g: GlobalDraft, tracked: Map<string, string[]>, d: Diagnostics): Obj {
  const ipv6 = i.vips.some((v) => v.family === 'inet6');
  // keepalived always runs IPv6 instances as version 3, whatever the setting says.
  const version = ipv6 ? 3 : (i.version ?? g.vrrpVersion ?? 2);
  const out: Obj = {
    state: i.state ?? 'backup',
    interface: i.interface?.value,
    virtual_router_id: i.virtualRouterId,
    priority: i.priority ?? 100,
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
  if (i.preempt !== undefined) out.preempt = i.preempt;
  if (i.preemptDelayMs !== undefined) out.preempt_delay = duration(i.preemptDelayMs);
  const auth = i.authentication;
  if (auth !== undefined) {
    if (auth.type === undefined || auth.password === undefined) {
      d.error(auth.at, 'authentication needs auth_type and auth_pass');
    } else if (version === 3) {
      d.warn(auth.at, 'authentication is dropped: VRRP version 3 has none (keepalived ignores it too)');
    } else out.authentication = { type: auth.type, password: auth.password };
  }
  for (const vip of i.vips) {
    if (vip.dev !== null && vip.dev.value !== i.interface?.value) {
      d.error(
        vip.dev.at,
        `virtual IP ${vip.cidr} on ${vip.dev.value}, not the instance interface ${i.interface?.value}, is not supported: ipvsd adds an instance's VIPs on its interface; make a separate instance (in the same sync group) on ${vip.dev.value}`,
      );
    }
  }
  out.virtual_ipaddresses = i.vips.map((v) => v.cidr);
  if (i.unicastSrcIp !== undefined) out.unicast_src_ip = i.unicastSrcIp;
  if (i.unicastPeers.length > 0) out.unicast_peers = i.unicastPeers;
  if (i.trackInterfaces.length > 0) out.track_interfaces = [...new Set(i.trackInterfaces)];
  const scripts = tracked.get(i.name) ?? [];
  if (scripts.length > 0) out.track_scripts = scripts;
  const notify = notifyOut(i.notify, `vrrp_instance ${i.name}`, d);
  if (notify !== undefined) {
    out.notify = notify;
    const specific = STATES.map((s) => i.notify[s]).find((n) => n !== undefined && !FROM_GROUP.has(n));
    if (specific !== undefined) {
      d.warn(
        specific.at,
        'ipvsd calls notify_master/backup/fault scripts with four arguments (INSTANCE|GROUP, name, state, priority), as keepalived calls "notify"; a script that reads its arguments must allow them',
      );
    }
    if (i.notify.any !== undefined) {
      d.warn(
        i.notify.any.at,
        'notify is not called on STOP by ipvsd (keepalived calls it with STOP when it stops)',
      );
    }
  }
  return out;
}

/**
 * A sync group's members change state together, so the group's own notify scripts can run from
 * one member: each goes to the first member without a script of its own for that state. Group
 * tracking (interfaces, unweighted scripts) applies to every member, as keepalived does.
 */
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
    const states: (keyof NotifyDrafts)[] =
      g.notify.any !== undefined ? ['any'] : ['master', 'backup', 'fault'];
    for (const state of states) {
      const script: Located<string[]> | undefined = g.notify[state];
      if (script === undefined) continue;
      const free = members.find(
        (m) => m.notify[state] === undefined && (state === 'any' || m.notify.any === undefined),
      );
      if (free === undefined) {
        d.error(
          script.at,
          `vrrp_sync_group ${g.name}'s ${state === 'any' ? 'notify' : `notify_${state}`} cannot be placed: every member has its own, and ipvsd runs one script per state`,
        );
        continue;
      }
      free.notify[state] = script;
      FROM_GROUP.add(script);
      d.warn(
        script.at,
        `vrrp_sync_group ${g.name}'s ${state === 'any' ? 'notify' : `notify_${state}`} runs from member ${free.name} (ipvsd sync groups have no scripts of their own; the members change state together), with the arguments INSTANCE ${free.name} STATE PRIORITY`,
      );
    }
    if (g.notify.any !== undefined) {
      for (const state of ['master', 'backup', 'fault'] as const) {
        const extra = g.notify[state];
        if (extra !== undefined)
          d.error(
            extra.at,
            `vrrp_sync_group ${g.name} has both notify and notify_${state}: ipvsd runs one script per state`,
          );
      }
    }
  }
}
