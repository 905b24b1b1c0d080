/**
 * virtual_server blocks to ipvsd `virtual_servers`. keepalived lets the checker settings
 * (delay_loop, connect_timeout, retry, ...) sit on the virtual server, the real server or the
 * checker, each level the default for the next, and fills the rest with its own defaults; ipvsd's
 * defaults differ (a 2 s interval, not 60 s; a 1 s timeout, not 5 s; `retry` counts every failed
 * attempt, keepalived's counts the attempts after the first), so every check is written out in
 * full, with keepalived's values, and nothing is left to ipvsd's defaults.
 */
import { quote } from '../../errors.js';
import { addressToBytes, bytesToAddress } from '../../model/address.js';
import { SCHEDULERS } from '../../model/ipvs.js';
import { parseIp } from '../addresses.js';
import { parseRange } from '../validate-groups.js';
import {
  EXTRA_CHECKER_DROPPED,
  EXTRA_CHECKER_KINDS,
  EXTRA_TYPE,
  type ExtraCheckerFields,
  type ExtraCheckerKind,
  extraCheckerHandlers,
  extraCheckOut,
  fileCheckOut,
  isExtraCheckerKind,
  readFileCheck,
} from './convert-checkers.js';
import type { TrackFileDraft } from './convert-vrrp-extra.js';
import type { Diagnostics, Place } from './diagnostics.js';
import type { Statement } from './parser.js';
import type { Token } from './tokenizer.js';
import { arity, command, duration, flag, int, ip, single, timerMs } from './values.js';
import { type DroppedTable, type Handlers, needsBlock, refuse, register, walk, warn } from './walk.js';

/** Settings a virtual server passes to its real servers and a real server to its checkers. */
interface CheckerOptions {
  delayLoopMs?: number;
  connectTimeoutMs?: number;
  retry?: number;
  delayBeforeRetryMs?: number;
  warmupMs?: number;
  alpha?: boolean;
  virtualhost?: string;
}

type CheckerKind = 'TCP_CHECK' | 'HTTP_GET' | 'SSL_GET' | 'MISC_CHECK' | ExtraCheckerKind | 'FILE_CHECK';

interface UrlDraft {
  path?: string;
  digest?: string;
  status?: (number | string)[];
  virtualhost?: string;
  at: Place;
}

interface CheckerDraft extends CheckerOptions, ExtraCheckerFields {
  readonly kind: CheckerKind;
  readonly at: Place;
  connectIp?: string;
  connectPort?: number;
  bindIp?: string;
  urls: UrlDraft[];
  sni?: string;
  enableSni?: boolean;
  argv?: string[];
  miscTimeoutMs?: number;
}

interface RealServerDraft extends CheckerOptions {
  readonly at: Place;
  readonly label: string;
  address?: string;
  family?: 'inet' | 'inet6';
  port?: number;
  weight?: number;
  forwarding?: string;
  inhibit?: boolean;
  upper?: number;
  lower?: number;
  notifyUp?: string[];
  notifyDown?: string[];
  checkers: CheckerDraft[];
}

export interface VirtualServerDraft extends CheckerOptions {
  readonly at: Place;
  readonly label: string;
  address?: string;
  family?: 'inet' | 'inet6';
  port?: number;
  fwmark?: number;
  /** `virtual_server group NAME`. */
  group?: Located;
  protocol?: string;
  scheduler?: string;
  schedulerFlags: string[];
  forwarding?: string;
  persistenceTimeoutS?: number;
  granularity?: Located;
  quorum?: number;
  hysteresis?: number;
  sorry?: { address: string; port?: number };
  inhibit?: boolean;
  quorumUp?: string[];
  quorumDown?: string[];
  realServers: RealServerDraft[];
}

interface Located {
  readonly text: string;
  readonly at: Token;
}

/** Checker options valid on all three levels. */
function optionHandlers<D extends CheckerOptions>(): Handlers<D> {
  return {
    delay_loop: (s, x, d) => {
      x.delayLoopMs = timerMs(single(s, d), d, 'delay_loop');
      if (x.delayLoopMs === 0) x.delayLoopMs = d.error(s.keyword, 'delay_loop must be longer than 0');
    },
    connect_timeout: (s, x, d) => {
      x.connectTimeoutMs = timerMs(single(s, d), d, 'connect_timeout');
      if (x.connectTimeoutMs === 0)
        x.connectTimeoutMs = d.error(s.keyword, 'connect_timeout must be longer than 0');
    },
    retry: (s, x, d) => {
      x.retry = int(single(s, d), d, 'retry', 0, 2 ** 31 - 2);
    },
    nb_get_retry: (s, x, d) => {
      x.retry = int(single(s, d), d, 'nb_get_retry', 0, 2 ** 31 - 2);
    },
    delay_before_retry: (s, x, d) => {
      x.delayBeforeRetryMs = timerMs(single(s, d), d, 'delay_before_retry');
    },
    warmup: (s, x, d) => {
      x.warmupMs = timerMs(single(s, d), d, 'warmup');
    },
    alpha: (s, x, d) => {
      x.alpha = flag(s, d);
    },
    virtualhost: (s, x, d) => {
      x.virtualhost = single(s, d)?.text;
    },
  };
}

const mail = warn('ipvsd sends no mail; watch its metrics or logs instead');

const URL_DROPPED: DroppedTable = {
  regex: refuse('ipvsd checks the status and the MD5 digest, not a regular expression'),
  regex_no_match: refuse('ipvsd checks the status and the MD5 digest, not a regular expression'),
  regex_options: refuse('ipvsd checks the status and the MD5 digest, not a regular expression'),
  regex_stack: refuse('ipvsd checks the status and the MD5 digest, not a regular expression'),
  regex_min_offset: refuse('ipvsd checks the status and the MD5 digest, not a regular expression'),
  regex_max_offset: refuse('ipvsd checks the status and the MD5 digest, not a regular expression'),
  tls_compliant: warn('ipvsd closes TLS connections its own way'),
};

const URL_HANDLERS = register<UrlDraft>(
  ['url'],
  {
    path: (s, x, d) => {
      x.path = single(s, d)?.text;
    },
    digest: (s, x, d) => {
      const t = single(s, d);
      if (t === undefined) return;
      if (/^[0-9a-fA-F]{32}$/.test(t.text)) x.digest = t.text.toLowerCase();
      else d.error(t, `digest must be 32 hex digits (an MD5 sum from genhash), got ${quote(t.text)}`);
    },
    status_code: (s, x, d) => {
      if (!arity(s, d, 1, 64)) return;
      const codes: (number | string)[] = [];
      for (const t of s.args) {
        const m = /^(\d{3})(?:-(\d{3}))?$/.exec(t.text);
        if (
          m === null ||
          Number(m[1]) < 100 ||
          Number(m[2] ?? m[1]) > 599 ||
          Number(m[1]) > Number(m[2] ?? m[1])
        ) {
          d.error(t, `status_code must be HTTP codes or ranges like 200-299, got ${quote(t.text)}`);
          continue;
        }
        codes.push(m[2] === undefined ? Number(m[1]) : `${m[1]}-${m[2]}`);
      }
      x.status = codes;
    },
    virtualhost: (s, x, d) => {
      x.virtualhost = single(s, d)?.text;
    },
  },
  URL_DROPPED,
);

const CHECKER_DROPPED: DroppedTable = {
  bind_port: warn('ipvsd lets the kernel choose the source port of checks'),
  bind_if: refuse('ipvsd does not bind checks to an interface'),
  fwmark: refuse('ipvsd does not mark check packets; routing that depends on the mark would change'),
  log_all_failures: warn('ipvsd logs health changes, not every failed check'),
  http_protocol: warn('ipvsd sends HTTP/1.1 requests with "Connection: close"'),
  fast_recovery: warn('ipvsd checks every URL at every interval; there is nothing to speed up'),
  tls_compliant: warn('ipvsd closes TLS connections its own way'),
  misc_dynamic: refuse('ipvsd does not set weights from a script exit status; the weights would stay fixed'),
  user: warn('ipvsd runs check scripts as its own user (root)'),
  ...EXTRA_CHECKER_DROPPED,
};

const CHECKER_HANDLERS = register<CheckerDraft>(
  ['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'MISC_CHECK', ...EXTRA_CHECKER_KINDS],
  {
    ...optionHandlers<CheckerDraft>(),
    ...extraCheckerHandlers<CheckerDraft>(),
    connect_ip: (s, x, d) => {
      x.connectIp = ip(single(s, d), d, 'connect_ip')?.address;
    },
    connect_port: (s, x, d) => {
      x.connectPort = int(single(s, d), d, 'connect_port', 1, 65535);
    },
    bindto: (s, x, d) => {
      x.bindIp = ip(single(s, d), d, 'bindto')?.address;
    },
    url: (s, x, d) => {
      if (x.kind !== 'HTTP_GET' && x.kind !== 'SSL_GET') {
        d.error(s.keyword, `url belongs in HTTP_GET or SSL_GET, not ${x.kind}`);
        return;
      }
      if (!arity(s, d, 0) || !needsBlock(s, d)) return;
      const url: UrlDraft = { at: s.keyword };
      walk(s.block, 'url', URL_HANDLERS, URL_DROPPED, url, d);
      x.urls.push(url);
    },
    enable_sni: (s, x, d) => {
      x.enableSni = flag(s, d);
    },
    sni_name: (s, x, d) => {
      x.sni = single(s, d)?.text;
    },
    misc_path: (s, x, d) => {
      if (arity(s, d, 1, 64)) x.argv = command(s.args, s.keyword, d, 'misc_path');
    },
    misc_timeout: (s, x, d) => {
      x.miscTimeoutMs = timerMs(single(s, d), d, 'misc_timeout');
    },
  },
  CHECKER_DROPPED,
);

const RS_DROPPED: DroppedTable = {
  smtp_alert: mail,
  snmp_name: warn('ipvsd has no SNMP agent; real servers are named by address in its metrics'),
  BFD_CHECK: refuse('ipvsd has no BFD'),
};

const FORWARDING: Readonly<Record<string, string>> = { NAT: 'nat', DR: 'dr', TUN: 'tun' };

/**
 * keepalived's forwarding_handler (check/check_parser.c) compares the exact words: `lb_kind dr`
 * is reported and ignored there, leaving the method as it was (NAT unless set before).
 */
function forwarding(s: Statement, d: Diagnostics): string | undefined {
  if (!arity(s, d, 1, 6)) return undefined;
  const method = s.args[0] as Token;
  const mapped = Object.hasOwn(FORWARDING, method.text) ? FORWARDING[method.text] : undefined;
  if (mapped === undefined) {
    d.warn(
      method,
      `${s.keyword.text} ${quote(method.text)} is ignored, as keepalived ignores it (it knows only NAT, DR and TUN, in capitals): the method stays as it was (NAT by default)`,
    );
    return undefined;
  }
  const [, type, value] = s.args;
  if (type !== undefined) {
    if (mapped === 'tun' && type.text === 'type' && value?.text === 'ipip' && s.args.length === 3)
      return mapped;
    return d.error(type, `${s.keyword.text} TUN options are not supported: ipvsd tunnels with plain IPIP`);
  }
  return mapped;
}

const RS_HANDLERS = register<RealServerDraft>(
  ['real_server'],
  {
    ...optionHandlers<RealServerDraft>(),
    weight: (s, x, d) => {
      x.weight = int(single(s, d), d, 'weight', 0, 2 ** 31 - 1);
    },
    lvs_method: (s, x, d) => {
      x.forwarding = forwarding(s, d) ?? x.forwarding;
    },
    // keepalived installs only lvs_method in real_server (check_parser.c): lb_kind there is an
    // unknown keyword it reports and ignores, so the real server keeps the virtual server's method.
    lb_kind: (s, _x, d) => {
      d.warn(
        s.keyword,
        "lb_kind in a real_server is ignored, as keepalived ignores it (it takes lvs_method there): the real server uses the virtual server's method",
      );
    },
    inhibit_on_failure: (s, x, d) => {
      x.inhibit = flag(s, d);
    },
    uthreshold: (s, x, d) => {
      x.upper = int(single(s, d), d, 'uthreshold', 0, 2 ** 32 - 1);
    },
    lthreshold: (s, x, d) => {
      x.lower = int(single(s, d), d, 'lthreshold', 0, 2 ** 32 - 1);
    },
    // keepalived keeps the first and reports the second (check_parser.c notify_up_handler).
    notify_up: (s, x, d) => {
      if (x.notifyUp !== undefined) d.warn(s.keyword, 'a second notify_up is ignored, as keepalived does');
      else if (arity(s, d, 1, 64)) x.notifyUp = command(s.args, s.keyword, d, 'notify_up');
    },
    notify_down: (s, x, d) => {
      if (x.notifyDown !== undefined)
        d.warn(s.keyword, 'a second notify_down is ignored, as keepalived does');
      else if (arity(s, d, 1, 64)) x.notifyDown = command(s.args, s.keyword, d, 'notify_down');
    },
    ...Object.fromEntries(
      (['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'MISC_CHECK', ...EXTRA_CHECKER_KINDS] as const).map((kind) => [
        kind,
        (s: Statement, x: RealServerDraft, d: Diagnostics) => {
          if (!arity(s, d, 0) || !needsBlock(s, d)) return;
          const checker: CheckerDraft = { kind, at: s.keyword, urls: [] };
          walk(s.block, kind, CHECKER_HANDLERS, CHECKER_DROPPED, checker, d);
          x.checkers.push(checker);
        },
      ]),
    ),
    FILE_CHECK: (s, x, d) => {
      const file = readFileCheck(s, d);
      if (file !== undefined) x.checkers.push({ kind: 'FILE_CHECK', at: s.keyword, urls: [], file });
    },
  },
  RS_DROPPED,
);

const VS_DROPPED: DroppedTable = {
  smtp_alert: mail,
  snmp_name: warn('ipvsd has no SNMP agent; virtual servers are named in its metrics'),
  ha_suspend: warn(
    'ipvsd checks real servers on every director in every VRRP state, so a backup is ready when it takes over',
  ),
  omega: warn('ipvsd runs no quorum or real server scripts at shutdown'),
  nat_mask: warn('unused by keepalived itself'),
  persistence_engine: refuse('ipvsd has no persistence engines (sip)'),
  sorry_server_inhibit: refuse('ipvsd always removes the sorry server when quorum is back'),
  sorry_server_lvs_method: refuse("ipvsd forwards to the sorry server with the virtual server's method"),
  'flag-3': refuse('ipvsd knows only the sh/mh flags 1 and 2 (fallback, port)'),
};

const SCHEDULER_FLAG = ['sh-port', 'sh-fallback', 'mh-port', 'mh-fallback', 'ops'];

const VS_HANDLERS = register<VirtualServerDraft>(
  ['virtual_server'],
  {
    ...optionHandlers<VirtualServerDraft>(),
    lb_algo: (s, x, d) => readScheduler(s, x, d),
    lvs_sched: (s, x, d) => readScheduler(s, x, d),
    lb_kind: (s, x, d) => {
      x.forwarding = forwarding(s, d) ?? x.forwarding;
    },
    lvs_method: (s, x, d) => {
      x.forwarding = forwarding(s, d) ?? x.forwarding;
    },
    // vs_alpha_handler reads no argument: `alpha 1` (or any word) on a virtual server is `alpha`.
    alpha: (s, x, d) => {
      const extra = s.args[0];
      if (extra !== undefined)
        d.warn(
          extra,
          `${quote(extra.text)} after alpha is ignored, as keepalived ignores it on a virtual server: alpha is on`,
        );
      x.alpha = true;
    },
    persistence_timeout: (s, x, d) => {
      if (!arity(s, d, 0, 1)) return;
      // keepalived: the keyword alone means 6 minutes.
      if (s.args[0]?.text === '0') {
        // pto_handler reads 1..LVS_MAX_TIMEOUT: 0 is reported and ignored
        d.warn(
          s.args[0],
          'persistence_timeout 0 is ignored, as keepalived ignores it (it takes 1 or more seconds): no persistence unless set elsewhere',
        );
        return;
      }
      x.persistenceTimeoutS =
        s.args[0] === undefined ? 360 : int(s.args[0], d, 'persistence_timeout', 1, 2_147_483);
    },
    persistence_granularity: (s, x, d) => {
      const t = single(s, d);
      if (t !== undefined) x.granularity = { text: t.text, at: t };
    },
    protocol: (s, x, d) => {
      const t = single(s, d);
      if (t === undefined) return;
      const protocol = t.text.toLowerCase();
      if (['tcp', 'udp', 'sctp'].includes(protocol)) x.protocol = protocol;
      else d.error(t, `protocol must be TCP, UDP or SCTP, got ${quote(t.text)}`);
    },
    quorum: (s, x, d) => {
      x.quorum = int(single(s, d), d, 'quorum', 1, 2 ** 31 - 1);
    },
    hysteresis: (s, x, d) => {
      x.hysteresis = int(single(s, d), d, 'hysteresis', 0, 2 ** 31 - 1);
    },
    sorry_server: (s, x, d) => {
      if (!arity(s, d, 1, 2)) return;
      const address = ip(s.args[0], d, 'sorry_server')?.address;
      const port = s.args[1] === undefined ? undefined : int(s.args[1], d, 'sorry_server port', 0, 65535);
      if (address !== undefined) x.sorry = { address, ...(port === undefined || port === 0 ? {} : { port }) };
    },
    inhibit_on_failure: (s, x, d) => {
      x.inhibit = flag(s, d);
    },
    quorum_up: (s, x, d) => {
      if (x.quorumUp !== undefined) d.warn(s.keyword, 'a second quorum_up is ignored, as keepalived does');
      else if (arity(s, d, 1, 64)) x.quorumUp = command(s.args, s.keyword, d, 'quorum_up');
    },
    quorum_down: (s, x, d) => {
      if (x.quorumDown !== undefined)
        d.warn(s.keyword, 'a second quorum_down is ignored, as keepalived does');
      else if (arity(s, d, 1, 64)) x.quorumDown = command(s.args, s.keyword, d, 'quorum_down');
    },
    ip_family: (s, x, d) => {
      const t = single(s, d);
      if (t?.text === 'inet' || t?.text === 'inet6') x.family = t.text;
      else if (t !== undefined) d.error(t, `ip_family must be inet or inet6, got ${quote(t.text)}`);
    },
    ...Object.fromEntries(
      SCHEDULER_FLAG.map((f) => [
        f,
        (s: Statement, x: VirtualServerDraft, d: Diagnostics) => {
          if (arity(s, d, 0)) x.schedulerFlags.push(f);
        },
      ]),
    ),
    'flag-1': (s, x, d) => schedulerFlagNumber(s, x, d, 'fallback'),
    'flag-2': (s, x, d) => schedulerFlagNumber(s, x, d, 'port'),
    real_server: (s, x, d) => {
      const rs = readRealServer(s, d);
      if (rs !== undefined) x.realServers.push(rs);
    },
  },
  VS_DROPPED,
);

function readScheduler(s: Statement, x: VirtualServerDraft, d: Diagnostics): void {
  const t = single(s, d);
  if (t === undefined) return;
  if ((SCHEDULERS as readonly string[]).includes(t.text)) x.scheduler = t.text;
  else d.error(t, `scheduler ${quote(t.text)} is not one of ${SCHEDULERS.join(', ')}`);
}

/** flag-1 / flag-2 are the sh and mh schedulers' fallback and port flags (ipvsadm -b). */
function schedulerFlagNumber(s: Statement, x: VirtualServerDraft, d: Diagnostics, which: string): void {
  if (!arity(s, d, 0)) return;
  x.schedulerFlags.push(`@${which}`);
}

function readRealServer(s: Statement, d: Diagnostics): RealServerDraft | undefined {
  if (!arity(s, d, 1, 2) || !needsBlock(s, d)) return undefined;
  const rs: RealServerDraft = { at: s.keyword, label: s.args.map((a) => a.text).join(' '), checkers: [] };
  const address = ip(s.args[0], d, 'real_server address');
  rs.address = address?.address;
  rs.family = address?.family;
  // keepalived: a real server without a port, or with port 0, has none (check_data.c alloc_rs).
  if (s.args[1] !== undefined) rs.port = int(s.args[1], d, 'real_server port', 0, 65535);
  walk(s.block, `real_server ${rs.label}`, RS_HANDLERS, RS_DROPPED, rs, d);
  return rs;
}

export function readVirtualServer(s: Statement, d: Diagnostics): VirtualServerDraft | undefined {
  if (!needsBlock(s, d)) return undefined;
  const [first, second, extra] = s.args;
  if (first === undefined) return d.error(s.keyword, 'virtual_server needs ADDRESS PORT or fwmark N');
  // vs_handler (check/check_parser.c) reads two words: the rest (`dev eth0`) is ignored there
  if (extra !== undefined)
    d.warn(
      extra,
      `${quote(
        s.args
          .slice(2)
          .map((a) => a.text)
          .join(' '),
      )} after virtual_server ${first.text} ${second?.text ?? ''} is ignored, as keepalived ignores it`,
    );
  const vs: VirtualServerDraft = {
    at: s.keyword,
    label: s.args.map((a) => a.text).join(' '),
    schedulerFlags: [],
    realServers: [],
  };
  if (first.text === 'group') {
    if (second === undefined)
      return d.error(first, 'virtual_server group needs the name of a virtual_server_group');
    vs.group = { text: second.text, at: second };
  } else if (first.text === 'fwmark') {
    vs.fwmark = int(second, d, 'fwmark', 1, 2 ** 32 - 1);
    if (second === undefined) d.error(first, 'fwmark needs a number');
  } else {
    const address = ip(first, d, 'virtual_server address');
    vs.address = address?.address;
    vs.family = address?.family;
    // keepalived: no port, or port 0, is an all-ports service (check_data.c alloc_vs).
    vs.port = second === undefined ? 0 : int(second, d, 'virtual_server port', 0, 65535);
  }
  walk(s.block, `virtual_server ${vs.label}`, VS_HANDLERS, VS_DROPPED, vs, d);
  return vs;
}

/* ---- from drafts to the YAML shape ---- */

type Obj = Record<string, unknown>;

/** keepalived's defaults where ipvsd's differ (keepalived.conf(5), check_api.c). */
const KA_DELAY_LOOP_MS = 60_000;
const KA_CONNECT_TIMEOUT_MS = 5_000;

function pick<T>(...values: (T | undefined)[]): T | undefined {
  return values.find((v) => v !== undefined);
}

/** One checker of a real server, in ipvsd's keys: one check, or one per url when their hosts differ. */
function checkerOut(
  vs: VirtualServerDraft,
  rs: RealServerDraft,
  c: CheckerDraft,
  d: Diagnostics,
  trackFiles: ReadonlyMap<string, TrackFileDraft>,
): Obj[] | undefined {
  if (c.kind === 'FILE_CHECK') {
    const file = c.file === undefined ? undefined : fileCheckOut(c.file, trackFiles, d);
    return file === undefined ? undefined : [file];
  }
  const dns = c.kind === 'DNS_CHECK';
  const interval = pick(c.delayLoopMs, rs.delayLoopMs, vs.delayLoopMs) ?? KA_DELAY_LOOP_MS;
  const misc = c.kind === 'MISC_CHECK';
  const http = c.kind === 'HTTP_GET' || c.kind === 'SSL_GET';
  const timeout = misc
    ? (c.miscTimeoutMs ?? interval)
    : (pick(c.connectTimeoutMs, rs.connectTimeoutMs, vs.connectTimeoutMs) ?? KA_CONNECT_TIMEOUT_MS);
  if (misc && c.connectTimeoutMs !== undefined)
    d.warn(c.at, 'connect_timeout of a MISC_CHECK is dropped: misc_timeout bounds the script');
  // keepalived's retry counts the attempts after the first failure; ipvsd's counts them all.
  // Per-kind defaults: check_misc.c default_retry 0, check_dns.c DNS_DEFAULT_RETRY 3.
  const retry = (pick(c.retry, rs.retry, vs.retry) ?? (misc ? 0 : dns ? 3 : 1)) + 1;
  // check_http.c 3 s, check_dns.c delay_loop (default_delay_before_retry 0), check_api.c 1 s.
  const delayBeforeRetry =
    pick(c.delayBeforeRetryMs, rs.delayBeforeRetryMs, vs.delayBeforeRetryMs) ??
    (http ? 3000 : dns ? interval : 1000);
  // keepalived spreads the first checks over up to one delay_loop unless told otherwise.
  const warmup = pick(c.warmupMs, rs.warmupMs, vs.warmupMs) ?? interval;
  const alpha = pick(c.alpha, rs.alpha, vs.alpha) ?? false;
  const extra = isExtraCheckerKind(c.kind) ? c.kind : undefined;
  const check: Obj = {
    type:
      extra !== undefined
        ? EXTRA_TYPE[extra]
        : misc
          ? 'script'
          : c.kind === 'TCP_CHECK'
            ? 'tcp'
            : c.kind === 'HTTP_GET'
              ? 'http'
              : 'https',
    interval: duration(interval),
    timeout: duration(timeout),
    retry,
    delay_before_retry: duration(delayBeforeRetry),
    warmup: duration(warmup),
  };
  if (alpha) check.initial_state = 'down';
  if (misc) {
    if (c.argv === undefined) return d.error(c.at, 'MISC_CHECK has no misc_path');
    check.script = c.argv;
    return [check];
  }
  if (c.connectIp !== undefined) check.connect_ip = c.connectIp;
  if (c.connectPort !== undefined) {
    if (c.kind === 'PING_CHECK') d.warn(c.at, 'connect_port of a PING_CHECK is dropped: ICMP has no ports');
    else check.connect_port = c.connectPort;
  } else if (!rs.port && c.kind !== 'PING_CHECK')
    return d.error(
      c.at,
      `${c.kind} of real_server ${rs.label}, which has no port, needs connect_port (keepalived would connect to port 0)`,
    );
  if (c.bindIp !== undefined) check.bind_ip = c.bindIp;
  if (extra !== undefined) {
    extraCheckOut(c, check, d);
    return [check];
  }
  if (!http) return [check];
  if (c.urls.length === 0) return d.error(c.at, `${c.kind} has no url { path ... }`);
  const urls: { out: Obj; host: string | undefined }[] = [];
  for (const url of c.urls) {
    if (url.path === undefined) return d.error(url.at, 'url has no path');
    // keepalived accepts any 2xx when status_code is not given; ipvsd's default is 200 alone.
    const out: Obj = { path: url.path, status: url.status ?? ['200-299'] };
    if (url.digest !== undefined) out.digest = url.digest;
    urls.push({ out, host: pick(url.virtualhost, c.virtualhost, rs.virtualhost, vs.virtualhost) });
  }
  const withHost = (host: string | undefined, into: Obj): Obj => {
    if (host !== undefined) into.host = host;
    if (c.kind === 'SSL_GET') {
      const sni = c.sni ?? (c.enableSni === true ? host : undefined);
      if (c.enableSni === true && sni === undefined)
        d.warn(c.at, 'enable_sni without a virtualhost or sni_name sends no SNI');
      if (sni !== undefined) into.sni = sni;
    }
    return into;
  };
  const first = urls[0] as { out: Obj; host: string | undefined };
  if (urls.length === 1) return [withHost(first.host, { ...check, ...first.out })];
  // Every url must pass (keepalived's check_http.c epilog: the checker is up only once all urls
  // have succeeded). One host for all: one check with `urls`; else one check per url, which
  // ipvsd's all-checks-must-pass rule makes the same.
  if (urls.every((u) => u.host === first.host))
    return [withHost(first.host, { ...check, urls: urls.map((u) => u.out) })];
  return urls.map((u) => withHost(u.host, { ...check, ...u.out }));
}

/** Every check of one real server (keepalived: it is up only while all its checkers are). */
function checksOf(
  vs: VirtualServerDraft,
  rs: RealServerDraft,
  d: Diagnostics,
  trackFiles: ReadonlyMap<string, TrackFileDraft>,
): Obj[] | undefined {
  if (rs.checkers.length === 0) return [{ type: 'none' }];
  const out: Obj[] = [];
  let ok = true;
  for (const c of rs.checkers) {
    const checks = checkerOut(vs, rs, c, d, trackFiles);
    if (checks === undefined) ok = false;
    else out.push(...checks);
  }
  return ok ? out : undefined;
}

/** `check: X` for one check, `checks: [...]` for several. */
function checkKeys(checks: Obj[]): Obj {
  return checks.length === 1 ? { check: checks[0] } : { checks };
}

function persistence(vs: VirtualServerDraft, d: Diagnostics): Obj | undefined {
  if (vs.granularity !== undefined && vs.persistenceTimeoutS === undefined) {
    return d.error(
      vs.granularity.at,
      'persistence_granularity without persistence_timeout is not supported: add persistence_timeout',
    );
  }
  if (vs.persistenceTimeoutS === undefined) return undefined;
  const out: Obj = { timeout: `${vs.persistenceTimeoutS}s` };
  const g = vs.granularity;
  if (g !== undefined) {
    if (vs.family === 'inet6') {
      const prefix = Number(g.text);
      if (!/^\d+$/.test(g.text) || prefix < 1 || prefix > 128) {
        return d.error(
          g.at,
          `persistence_granularity of an IPv6 service must be a prefix length, got ${quote(g.text)}`,
        );
      }
      out.netmask = prefix;
    } else if (parseIp(g.text)?.family === 'inet') out.netmask = g.text;
    else
      return d.error(
        g.at,
        `persistence_granularity must be a netmask like 255.255.255.0, got ${quote(g.text)}`,
      );
  }
  return out;
}

function schedulerFlags(vs: VirtualServerDraft, d: Diagnostics): string[] {
  return vs.schedulerFlags.flatMap((f) => {
    if (!f.startsWith('@')) return [f];
    const scheduler = vs.scheduler ?? 'wlc';
    if (scheduler !== 'sh' && scheduler !== 'mh') {
      d.error(vs.at, `flag-1/flag-2 only mean something for the sh and mh schedulers, not ${scheduler}`);
      return [];
    }
    return [`${scheduler}-${f.slice(1)}`];
  });
}

/** keepalived's default persistence_timeout: 6 minutes (IPVS_SVC_PERSISTENT_TIMEOUT). */
const KA_PERSISTENT_TIMEOUT_S = 360;

/** The YAML entry of one virtual server; undefined when something in it cannot be converted. */
export function virtualServerOut(
  vs: VirtualServerDraft,
  d: Diagnostics,
  groups: ReadonlyMap<string, GroupSummary> = new Map(),
  trackFiles: ReadonlyMap<string, TrackFileDraft> = new Map(),
): Obj | undefined {
  const out: Obj = {};
  const group = vs.group === undefined ? undefined : groups.get(vs.group.text);
  if (vs.group !== undefined) {
    if (group === undefined)
      return d.error(vs.group.at, `virtual_server_group ${quote(vs.group.text)} is not defined`);
    out.group = vs.group.text;
    // keepalived ignores the protocol of a group of fwmarks only (check_data.c validate_check_config).
    if (group.addresses) out.protocol = vs.protocol ?? 'tcp';
    else if (vs.protocol !== undefined)
      d.warn(
        vs.at,
        `protocol of virtual_server group ${vs.group.text} (only fwmarks) is dropped, as keepalived does`,
      );
  } else if (vs.fwmark !== undefined) {
    out.fwmark = vs.fwmark;
    if (vs.family === 'inet6') out.family = 'inet6';
    if (vs.protocol !== undefined)
      d.warn(vs.at, 'protocol of a fwmark virtual_server is dropped: the mark alone selects the packets');
  } else {
    out.address = vs.address;
    out.port = vs.port;
    if (vs.protocol === undefined) {
      // validate_check_config (check/check_data.c): "no protocol set - defaulting to UDP"
      d.warn(
        vs.at,
        `virtual_server ${vs.label} has no protocol: UDP, as keepalived defaults to UDP (add "protocol TCP" if TCP was meant, on both)`,
      );
    }
    out.protocol = vs.protocol ?? 'udp';
  }
  out.scheduler = vs.scheduler ?? 'wlc';
  const flags = schedulerFlags(vs, d);
  if (flags.length > 0) out.scheduler_flags = flags;
  const fwd = vs.forwarding ?? 'nat';
  out.forwarding = fwd;
  let persist = persistence(vs, d);
  // IPVS forwards all ports only for a persistent service: keepalived then turns persistence on
  // (check_data.c validate_check_config, "zero port only valid for persistent services").
  const allPorts = vs.port === 0 || group?.portZero === true;
  if (allPorts && persist === undefined && vs.granularity === undefined) {
    d.warn(
      vs.at,
      `port 0 (all ports) is only valid for a persistent service: persistence timeout ${KA_PERSISTENT_TIMEOUT_S}s is set, as keepalived does`,
    );
    persist = { timeout: `${KA_PERSISTENT_TIMEOUT_S}s` };
  }
  if (persist !== undefined) out.persistence = persist;
  // validate_check_config (check/check_data.c): a quorum above the real servers' total weight
  // is lowered to it, then a hysteresis >= quorum to quorum - 1.
  const weightSum = vs.realServers.reduce((sum, rs) => sum + (rs.weight ?? 1), 0);
  let quorum = vs.quorum;
  if (quorum !== undefined && quorum > weightSum && weightSum > 0) {
    d.warn(
      vs.at,
      `quorum ${quorum} exceeds the real servers' total weight ${weightSum}: lowered to ${weightSum}, as keepalived lowers it`,
    );
    quorum = weightSum;
  }
  let hysteresis = vs.hysteresis;
  if (hysteresis !== undefined && hysteresis > 0 && hysteresis >= (quorum ?? 1)) {
    d.warn(
      vs.at,
      `hysteresis ${hysteresis} >= quorum ${quorum ?? 1}: lowered to ${(quorum ?? 1) - 1}, as keepalived lowers it`,
    );
    hysteresis = (quorum ?? 1) - 1;
  }
  if (quorum !== undefined) out.quorum = quorum;
  if (hysteresis !== undefined) out.hysteresis = hysteresis;
  if (vs.sorry !== undefined) out.sorry_server = vs.sorry;
  if (vs.quorumUp !== undefined) out.quorum_up = vs.quorumUp;
  if (vs.quorumDown !== undefined) out.quorum_down = vs.quorumDown;
  // keepalived sets inhibit_on_failure per real server, the virtual server's as their default
  // (check_data.c validate_check_config).
  // Set on every real server: written once, on the virtual server.
  const inhibits = vs.realServers.map((rs) => rs.inhibit ?? vs.inhibit ?? false);
  const vsInhibit = inhibits.length > 0 && inhibits.every((i) => i) ? true : (vs.inhibit ?? false);
  if (vsInhibit) out.inhibit_on_failure = true;
  const checks = vs.realServers.map((rs) => checksOf(vs, rs, d, trackFiles));
  const text = (c: Obj[] | undefined) => JSON.stringify(c);
  const same = checks.length > 0 && checks.every((c) => text(c) === text(checks[0]));
  if (same && checks[0] !== undefined) Object.assign(out, checkKeys(checks[0]));
  const portless = vs.fwmark !== undefined || vs.group !== undefined;
  out.real_servers = vs.realServers.map((rs, i) => {
    const r: Obj = { address: rs.address };
    const rsForwarding = rs.forwarding ?? fwd;
    if (vs.fwmark !== undefined && rsForwarding !== 'nat' && rs.port) {
      // keepalived: check_data.c validate_check_config, "real server has port specified - clearing".
      d.warn(
        rs.at,
        `the port of a ${rsForwarding} real_server of a fwmark virtual_server is cleared, as keepalived does`,
      );
    } else if (
      rs.port !== undefined &&
      rsForwarding !== 'nat' &&
      vs.port !== undefined &&
      rs.port !== vs.port
    ) {
      // validate_check_config: DR and TUN cannot change the port; keepalived resets it
      d.warn(
        rs.at,
        `real server port ${rs.port} differs from the virtual server's ${vs.port}, which ${rsForwarding.toUpperCase()} cannot change: set to ${vs.port}, as keepalived sets it`,
      );
      r.port = vs.port;
    } else if (rs.port !== undefined && (rs.port !== 0 || portless)) r.port = rs.port;
    if (rs.family !== undefined && vs.family !== undefined && rs.family !== vs.family) {
      d.error(rs.at, `real server ${rs.address} is not of the virtual server's address family`);
    }
    r.weight = rs.weight ?? 1;
    if (rs.forwarding !== undefined && rs.forwarding !== fwd) r.forwarding = rs.forwarding;
    if (rs.upper !== undefined) r.upper_threshold = rs.upper;
    if (rs.lower !== undefined) r.lower_threshold = rs.lower;
    if ((rs.inhibit ?? vs.inhibit ?? false) !== vsInhibit)
      r.inhibit_on_failure = rs.inhibit ?? vs.inhibit ?? false;
    if (rs.notifyUp !== undefined) r.notify_up = rs.notifyUp;
    if (rs.notifyDown !== undefined) r.notify_down = rs.notifyDown;
    const own = checks[i];
    if (!same && own !== undefined) Object.assign(r, checkKeys(own));
    return r;
  });
  return out;
}

/* ---- virtual_server_group ---- */

/** What a virtual_server naming the group needs to know of it. */
export interface GroupSummary {
  readonly addresses: boolean;
  /** An address member without a port (or port 0): the services need persistence. */
  readonly portZero: boolean;
}

export interface VirtualServerGroupDraft {
  readonly name: string;
  readonly at: Place;
  readonly members: Obj[];
  readonly summary: GroupSummary;
}

function toBig(address: string): bigint {
  return BigInt(`0x${(addressToBytes(address) ?? Buffer.alloc(4)).toString('hex')}`);
}

/** `192.0.2.0/30` → `192.0.2.0-192.0.2.3`, as keepalived's alloc_vsg_entry reads a prefix. */
function prefixRange(t: Token, d: Diagnostics): string | undefined {
  const [base, bitsText] = t.text.split('/') as [string, string];
  const ipa = parseIp(base);
  const width = ipa?.family === 'inet6' ? 128 : 32;
  const bits = /^\d+$/.test(bitsText) ? Number(bitsText) : Number.NaN;
  if (ipa === null || !(bits >= 1 && bits <= width))
    return d.error(t, `invalid address/prefix ${quote(t.text)}`);
  const host = (1n << BigInt(width - bits)) - 1n;
  const start = toBig(ipa.address);
  if ((start & host) !== 0n)
    return d.error(t, `address mask bits not empty in ${quote(t.text)}, as keepalived reports`);
  const hex = (start | host).toString(16).padStart(width / 4, '0');
  return bits === width
    ? ipa.address
    : `${ipa.address}-${bytesToAddress(Buffer.from(hex, 'hex'), ipa.family)}`;
}

/** `virtual_server_group NAME { ADDR[-N|/P] [PORT] ... fwmark N [inet|inet6] ... }` (check_data.c alloc_vsg_entry). */
export function readVirtualServerGroup(s: Statement, d: Diagnostics): VirtualServerGroupDraft | undefined {
  if (!arity(s, d, 1) || !needsBlock(s, d)) return undefined;
  const name = (s.args[0] as Token).text;
  const members: Obj[] = [];
  let addresses = false;
  let portZero = false;
  let fwmarkNoFamily = false;
  const families = new Set<string>();
  for (const entry of s.block) {
    if (entry.block !== null) {
      d.error(entry.keyword, `unexpected block in virtual_server_group ${name}`);
      continue;
    }
    const word = entry.keyword;
    if (word.text === 'fwmark') {
      if (!arity(entry, d, 1, 2)) continue;
      const mark = int(entry.args[0], d, 'fwmark', 1, 2 ** 32 - 1);
      const family = entry.args[1]?.text;
      if (family !== undefined && family !== 'inet' && family !== 'inet6') {
        d.error(entry.args[1] as Token, `fwmark family must be inet or inet6, got ${quote(family)}`);
        continue;
      }
      if (mark === undefined) continue;
      if (family === undefined) fwmarkNoFamily = true;
      else families.add(family);
      members.push(family === 'inet6' ? { fwmark: mark, family } : { fwmark: mark });
      continue;
    }
    if (!arity(entry, d, 0, 1)) continue;
    const address = word.text.includes('/') ? prefixRange(word, d) : word.text;
    if (address === undefined) continue;
    const range = parseRange(address);
    if (range === null || toBig(range.last) < toBig(range.first)) {
      d.error(word, `invalid virtual_server_group address or range ${quote(word.text)}`);
      continue;
    }
    families.add(range.family);
    const port = entry.args[0] === undefined ? 0 : int(entry.args[0], d, 'port', 0, 65535);
    if (port === undefined) continue;
    addresses = true;
    if (port === 0) portZero = true;
    members.push({ address, port });
  }
  if (members.length === 0) {
    // keepalived: "virtual server group %s has no entries - removing" (check_parser.c vsg_handler).
    d.warn(s.keyword, `virtual_server_group ${name} has no entries and is dropped, as keepalived does`);
    return undefined;
  }
  if (families.size > 1 || (families.has('inet6') && fwmarkNoFamily)) {
    d.error(
      s.keyword,
      `virtual_server_group ${name} mixes IPv4 and IPv6: ipvsd's groups hold one address family`,
    );
    return undefined;
  }
  if (families.has('inet6')) for (const m of members) if (m.fwmark !== undefined) m.family = 'inet6';
  return { name, at: s.keyword, members, summary: { addresses, portZero } };
}
