/**
 * The VRRP sections: scripts, instances and sync groups, each a map from a user's name to an entry.
 * They are checked for shape and for the references between them (tracked scripts, group members);
 * protocol-level rules beyond what the packet format forces are left to the VRRP module.
 */
import type { Node } from 'yaml';
import { IpvsdError } from '../errors.js';
import { type ParsedCidr, parseCidr } from '../sys/ip-address.js';
import { type KeywordTable, nullable, readNamed, readSection, requireKeys } from './keywords.js';
import { formatPos } from './positions.js';
import type {
  SourcePos,
  VirtualIpConfig,
  VrrpInstanceConfig,
  VrrpScriptConfig,
  VrrpSyncGroupConfig,
} from './types.js';
import { familyName } from './validate-real-servers.js';
import { describeNode, type Value } from './values.js';

/** RFC 3768 §5.3.10: at most 255 s, whole seconds. RFC 5798 §5.2.7: 12 bits of centiseconds. */
const MAX_ADVERT_V2_MS = 255_000;
const MAX_ADVERT_V3_MS = 40_950;
/** RFC 3768 §5.3.11: the simple-text password is 8 octets. */
const MAX_PASSWORD_BYTES = 8;

interface ScriptDraft {
  argv?: string[];
  intervalMs?: number;
  timeoutMs?: number;
  rise?: number;
  fall?: number;
  weight?: number;
}

const SCRIPT_KEYWORDS: KeywordTable<ScriptDraft> = {
  script: (v, d) => {
    d.argv = v.command();
  },
  interval: (v, d) => {
    d.intervalMs = v.duration({ exclusiveMin: true });
  },
  timeout: (v, d) => {
    d.timeoutMs = v.duration({ exclusiveMin: true });
  },
  rise: (v, d) => {
    d.rise = v.int(1);
  },
  fall: (v, d) => {
    d.fall = v.int(1);
  },
  weight: (v, d) => {
    d.weight = v.int(-254, 254);
  },
};

interface AuthDraft {
  type?: 'pass' | 'ah';
  password?: string;
  passwordValue?: Value;
}

const AUTH_KEYWORDS: KeywordTable<AuthDraft> = {
  type: (v, d) => {
    d.type = v.oneOf<'pass' | 'ah'>(['pass', 'ah']);
  },
  password: (v, d) => {
    d.password = v.string();
    d.passwordValue = v;
  },
};

type Notify = VrrpInstanceConfig['notify'];
type NotifyDraft = { -readonly [K in keyof Notify]?: string[] };

const NOTIFY_KEYWORDS: KeywordTable<NotifyDraft> = {
  master: (v, d) => {
    d.master = v.command();
  },
  backup: (v, d) => {
    d.backup = v.command();
  },
  fault: (v, d) => {
    d.fault = v.command();
  },
};

interface InstanceDraft {
  state?: 'master' | 'backup';
  interface?: string;
  virtualRouterId?: number;
  priority?: number;
  advertInt?: Value;
  version?: 2 | 3;
  preempt?: boolean;
  preemptDelayMs?: number;
  authentication?: { value: Value; draft: AuthDraft };
  virtualIps?: { value: Value; vip: VirtualIpConfig }[];
  unicastSrcIp?: string;
  unicastPeers?: string[];
  trackInterfaces?: string[];
  trackScripts?: { name: string; value: Value }[];
  notify?: NotifyDraft;
}

function virtualIp(value: Value): VirtualIpConfig | undefined {
  const text = value.string();
  if (text === undefined) return undefined;
  let cidr: ParsedCidr;
  try {
    cidr = parseCidr(text);
  } catch (err) {
    if (!(err instanceof IpvsdError)) throw err;
    return value.fail(
      `virtual IP address must be "address" or "address/prefix", got ${JSON.stringify(text)}`,
    );
  }
  return { address: cidr.address, family: cidr.family, prefixLength: cidr.prefixLength };
}

const INSTANCE_KEYWORDS: KeywordTable<InstanceDraft> = {
  state: (v, d) => {
    d.state = v.oneOf<'master' | 'backup'>(['master', 'backup']);
  },
  interface: (v, d) => {
    d.interface = v.string();
  },
  virtual_router_id: (v, d) => {
    d.virtualRouterId = v.int(1, 255);
  },
  priority: (v, d) => {
    d.priority = v.int(1, 255);
  },
  advert_int: (v, d) => {
    d.advertInt = v;
  },
  version: (v, d) => {
    d.version = v.int(2, 3) as 2 | 3 | undefined;
  },
  preempt: (v, d) => {
    d.preempt = v.bool();
  },
  preempt_delay: (v, d) => {
    d.preemptDelayMs = v.duration();
  },
  authentication: nullable((v, d) => {
    const draft: AuthDraft = {};
    const fields = readSection(v, 'authentication', AUTH_KEYWORDS, draft);
    if (fields !== undefined) requireKeys(v, 'authentication', fields, ['type', 'password']);
    d.authentication = { value: v, draft };
  }),
  virtual_ipaddresses: (v, d) => {
    d.virtualIps = v.list('virtual IP address')?.flatMap((item) => {
      const vip = virtualIp(item);
      return vip === undefined ? [] : [{ value: item, vip }];
    });
  },
  unicast_src_ip: (v, d) => {
    d.unicastSrcIp = v.ip()?.address;
  },
  unicast_peers: (v, d) => {
    d.unicastPeers = v.list('unicast peer')?.flatMap((item) => item.ip()?.address ?? []);
  },
  track_interfaces: (v, d) => {
    d.trackInterfaces = v.stringList('tracked interface');
  },
  track_scripts: (v, d) => {
    d.trackScripts = v.list('tracked script')?.flatMap((item) => {
      const name = item.string();
      return name === undefined ? [] : [{ name, value: item }];
    });
  },
  notify: (v, d) => {
    d.notify = {};
    readSection(v, 'notify', NOTIFY_KEYWORDS, d.notify);
  },
};

/** Centiseconds; whole seconds for VRRPv2, 10 ms steps for VRRPv3. */
function advertInterval(value: Value | undefined, version: 2 | 3): number | undefined {
  if (value === undefined) return 100;
  const ms =
    version === 2
      ? value.duration({ min: 1000, max: MAX_ADVERT_V2_MS, wholeSeconds: true })
      : value.duration({ min: 10, max: MAX_ADVERT_V3_MS });
  if (ms === undefined) return undefined;
  if (ms % 10 !== 0) {
    return value.fail(
      `advert_int must be a multiple of 10ms (VRRPv3 counts centiseconds), got ${describeNode(value.node)}`,
    );
  }
  return ms / 10;
}

function checkInstance(d: InstanceDraft, version: 2 | 3): void {
  const vips = d.virtualIps ?? [];
  const family = vips[0]?.vip.family;
  for (const { value, vip } of vips) {
    if (version === 2 && vip.family === 'inet6') {
      value.fail(`virtual IP address ${vip.address} is IPv6, which needs VRRP version 3`);
    } else if (family !== undefined && vip.family !== family) {
      value.fail(
        `virtual IP address ${vip.address} is ${familyName(vip.family)} but the instance's first is ${familyName(family)}`,
      );
    }
  }
  const auth = d.authentication;
  if (auth !== undefined && version === 3) {
    auth.value.fail('authentication is VRRP version 2 only (RFC 5798 removed it)');
  }
  const password = auth?.draft.password;
  if (password !== undefined && Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    auth?.draft.passwordValue?.fail(
      `password must be at most ${MAX_PASSWORD_BYTES} bytes (it is sent in the VRRP packet)`,
    );
  }
}

interface InstanceResult {
  readonly instance: VrrpInstanceConfig;
  readonly trackScripts: readonly { name: string; value: Value }[];
}

function readInstance(name: string, value: Value, source: SourcePos): InstanceResult | undefined {
  const d: InstanceDraft = {};
  const fields = readSection(value, `vrrp instance "${name}"`, INSTANCE_KEYWORDS, d);
  if (fields === undefined) return undefined;
  requireKeys(value, `vrrp instance "${name}"`, fields, ['interface', 'virtual_router_id']);
  const version = d.version ?? 2;
  const advertIntervalCs = advertInterval(d.advertInt, version);
  checkInstance(d, version);
  const auth = d.authentication?.draft;
  const instance: VrrpInstanceConfig = {
    name,
    state: d.state ?? 'backup',
    interface: d.interface ?? '',
    virtualRouterId: d.virtualRouterId ?? 0,
    priority: d.priority ?? 100,
    advertIntervalCs: advertIntervalCs ?? 100,
    version,
    preempt: d.preempt ?? true,
    preemptDelayMs: d.preemptDelayMs ?? 0,
    authentication:
      auth?.type !== undefined && auth.password !== undefined
        ? { type: auth.type, password: auth.password }
        : null,
    virtualIpaddresses: (d.virtualIps ?? []).map((v) => v.vip),
    unicastSrcIp: d.unicastSrcIp ?? null,
    unicastPeers: d.unicastPeers ?? [],
    trackInterfaces: d.trackInterfaces ?? [],
    trackScripts: (d.trackScripts ?? []).map((t) => t.name),
    notify: {
      master: d.notify?.master ?? null,
      backup: d.notify?.backup ?? null,
      fault: d.notify?.fault ?? null,
    },
    source,
  };
  return { instance, trackScripts: d.trackScripts ?? [] };
}

function readScript(name: string, value: Value, source: SourcePos): VrrpScriptConfig | undefined {
  const d: ScriptDraft = {};
  const fields = readSection(value, `vrrp script "${name}"`, SCRIPT_KEYWORDS, d);
  if (fields === undefined) return undefined;
  requireKeys(value, `vrrp script "${name}"`, fields, ['script']);
  const intervalMs = d.intervalMs ?? 1000;
  return {
    name,
    argv: d.argv ?? [],
    intervalMs,
    timeoutMs: d.timeoutMs ?? intervalMs,
    rise: d.rise ?? 1,
    fall: d.fall ?? 1,
    weight: d.weight ?? 0,
    source,
  };
}

interface GroupDraft {
  instances?: Value[];
}

const GROUP_KEYWORDS: KeywordTable<GroupDraft> = {
  instances: (v, d) => {
    d.instances = v.list('instance');
    if (d.instances?.length === 0) v.fail('instances must list at least one vrrp instance');
  },
};

export interface VrrpSections {
  readonly scripts: Value | null;
  readonly instances: Value | null;
  readonly syncGroups: Value | null;
}

export interface VrrpResult {
  readonly scripts: VrrpScriptConfig[];
  readonly instances: VrrpInstanceConfig[];
  readonly syncGroups: VrrpSyncGroupConfig[];
}

function present(value: Value | null): value is Value {
  return value !== null && !value.isNull;
}

/** Reads the three sections and checks the names they refer to. */
export function readVrrp(sections: VrrpSections): VrrpResult {
  const scripts: VrrpScriptConfig[] = [];
  const instances: VrrpInstanceConfig[] = [];
  const syncGroups: VrrpSyncGroupConfig[] = [];
  const trackRefs: { name: string; value: Value }[] = [];
  const pos = (v: Value, key: Node): SourcePos => v.ctx.pos(key);
  if (present(sections.scripts)) {
    readNamed(sections.scripts, 'vrrp_scripts', (name, v, key) => {
      const script = readScript(name, v, pos(v, key));
      if (script !== undefined) scripts.push(script);
    });
  }
  if (present(sections.instances)) {
    readNamed(sections.instances, 'vrrp_instances', (name, v, key) => {
      const result = readInstance(name, v, pos(v, key));
      if (result === undefined) return;
      instances.push(result.instance);
      trackRefs.push(...result.trackScripts);
    });
  }
  const scriptNames = new Set(scripts.map((s) => s.name));
  for (const { name, value } of trackRefs) {
    if (!scriptNames.has(name)) value.fail(`tracked script "${name}" is not defined in vrrp_scripts`);
  }
  if (present(sections.syncGroups)) {
    const instanceNames = new Set(instances.map((i) => i.name));
    const memberOf = new Map<string, { group: string; pos: SourcePos }>();
    readNamed(sections.syncGroups, 'vrrp_sync_groups', (name, v, key) => {
      const d: GroupDraft = {};
      const fields = readSection(v, `vrrp sync group "${name}"`, GROUP_KEYWORDS, d);
      if (fields === undefined) return;
      requireKeys(v, `vrrp sync group "${name}"`, fields, ['instances']);
      const members: string[] = [];
      for (const item of d.instances ?? []) {
        const member = item.string();
        if (member === undefined) continue;
        const other = memberOf.get(member);
        if (!instanceNames.has(member)) item.fail(`instance "${member}" is not defined in vrrp_instances`);
        else if (other !== undefined) {
          item.fail(
            `instance "${member}" is already in sync group "${other.group}" (at ${formatPos(other.pos)})`,
          );
        } else memberOf.set(member, { group: name, pos: item.pos });
        members.push(member);
      }
      syncGroups.push({ name, instances: members, source: pos(v, key) });
    });
  }
  return { scripts, instances, syncGroups };
}
