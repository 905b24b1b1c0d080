/**
 * Health check blocks. A virtual server's `check` is the template; a real server's `check` overrides
 * it key by key, and may change the type: keys of the template that do not fit the new type are
 * simply not inherited, while keys written in the wrong place are errors. So a block is first read
 * into a draft (values converted, nothing defaulted), checked against its effective type, and only
 * then merged with its parent and defaulted into a CheckConfig for each real server.
 */

import { isScalar, isSeq } from 'yaml';
import { DNS_QUERY_TYPES, type DnsQueryTypeName, dnsNameProblem } from '../check/dns-message.js';
import { SMTP_DEFAULT_HELO } from '../check/smtp-reply.js';
import {
  type HexBytes,
  readHexString,
  UDP_DEFAULT_MAX_REPLY,
  UDP_MAX_PAYLOAD,
  UDP_MAX_REPLY_LIMIT,
} from '../check/udp-payload.js';
import { quote } from '../errors.js';
import { INT32_MAX } from '../model/track-file.js';
import {
  type Fields,
  type KeyDoc,
  type Keyword,
  type KeywordTable,
  key,
  readSection,
  type ValueType,
} from './keywords.js';
import type { CheckConfig, CheckType, SourcePos, StatusRange, TcpCheck } from './types.js';
import {
  absolutePath,
  bool,
  command,
  duration,
  int,
  ip,
  listOf,
  oneOf,
  patterned,
  section,
  string,
  tableSchema,
} from './value-types.js';
import { describeNode, type Value } from './values.js';

export const CHECK_TYPES: readonly CheckType[] = [
  'tcp',
  'http',
  'https',
  'script',
  'dns',
  'udp',
  'ping',
  'smtp',
  'file',
  'none',
];

/** Check timings: an hour between checks is already a check that tells nothing for an hour. */
export const MAX_CHECK_DURATION_MS = 3_600_000;
/** Consecutive results counted (retry, rise, fall). */
export const MAX_CHECK_COUNT = 1000;
/** Status codes and ranges of one check. */
const MAX_STATUS_ITEMS = 100;

/** The default timeout is the interval, capped at this. */
const MAX_DEFAULT_TIMEOUT_MS = 1000;

/** Converted values of one check block, under their YAML names so merging is by key. */
interface CheckValues {
  type?: CheckType;
  interval?: number;
  timeout?: number;
  retry?: number;
  delay_before_retry?: number;
  rise?: number;
  warmup?: number;
  initial_state?: 'up' | 'down';
  connect_ip?: string;
  connect_port?: number;
  bind_ip?: string;
  path?: string;
  status?: StatusRange[];
  digest?: string;
  host?: string;
  sni?: string;
  verify_tls?: boolean;
  script?: string[];
  query_type?: DnsQueryTypeName;
  query_name?: string;
  payload?: HexBytes;
  require_reply?: boolean | HexBytes;
  min_reply_length?: number;
  max_reply_length?: number;
  helo_name?: string;
  file?: string;
  weight?: number;
  reverse?: boolean;
  urls?: UrlValues[];
}

/** One `urls` entry; unset keys are the check's own `status` and `digest`. */
interface UrlValues {
  path?: string;
  status?: StatusRange[];
  digest?: string;
}

type CheckKey = Exclude<keyof CheckValues, 'type'>;

export interface CheckDraft {
  readonly value: Value;
  readonly fields: Fields;
  readonly values: CheckValues;
}

/** A DNS name is at most 253 characters; a Host header may add ":port". */
const MAX_HOST_CHARS = 259;
/** Longer request paths than this are refused by common servers (8 KiB request lines). */
const MAX_URL_PATH_CHARS = 2048;

/** `200`, `"200-299"`, or a list of them. */
function statusRanges(value: Value): StatusRange[] | undefined {
  const items = isSeq(value.node) ? value.list('status', MAX_STATUS_ITEMS) : [value];
  if (items === undefined) return undefined;
  if (items.length === 0) return value.fail('status must list at least one status code or range');
  const ranges: StatusRange[] = [];
  for (const item of items) {
    const raw = isScalar(item.node) ? item.node.value : undefined;
    const match = typeof raw === 'string' ? /^\s*(\d{3})\s*-\s*(\d{3})\s*$/.exec(raw) : null;
    const min = typeof raw === 'number' ? raw : Number(match?.[1]);
    const max = typeof raw === 'number' ? raw : Number(match?.[2]);
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 100 || max > 599 || min > max) {
      item.fail(
        `status must be HTTP status codes (100-599) or ranges like "200-299", got ${describeNode(item.node)}`,
      );
      continue;
    }
    ranges.push({ min, max });
  }
  return ranges.length === items.length ? ranges : undefined;
}

function urlPath(value: Value): string | undefined {
  const text = value.string(MAX_URL_PATH_CHARS);
  if (text === undefined) return undefined;
  if (text.startsWith('/') && !/\s/.test(text)) return text;
  return value.fail(`path must start with "/" and contain no blanks, got ${quote(text)}`);
}

function md5Digest(value: Value): string | undefined {
  const text = value.string(32);
  if (text === undefined) return undefined;
  if (/^[0-9a-fA-F]{32}$/.test(text)) return text.toLowerCase();
  return value.fail(`digest must be 32 hex digits (an MD5 sum), got ${quote(text)}`);
}

const STATUS_RANGE_PATTERN = String.raw`^\s*\d{3}\s*-\s*\d{3}\s*$`;
const STATUS_CODE = { type: 'integer', minimum: 100, maximum: 599 };
const STATUS: ValueType<StatusRange[]> = {
  read: statusRanges,
  schema: () => {
    const one = { anyOf: [STATUS_CODE, { type: 'string', pattern: STATUS_RANGE_PATTERN }] };
    return { anyOf: [...one.anyOf, { type: 'array', minItems: 1, maxItems: MAX_STATUS_ITEMS, items: one }] };
  },
  summary: 'status codes and ranges, e.g. `[200, "300-399"]`',
  show: (ranges) => ranges.map((r) => (r.min === r.max ? r.min : `${r.min}-${r.max}`)),
};

/** A hex string as keepalived's UDP_CHECK reads it (../check/udp-payload.ts readHexString). */
function hexBytes(wildcards: boolean, label: string): ValueType<HexBytes> {
  const pattern = wildcards ? '^[0-9a-fA-FxX \\t]+$' : '^[0-9a-fA-F \\t]+$';
  return {
    read: (value) => {
      const text = value.string(2 * UDP_MAX_PAYLOAD + 1024);
      if (text === undefined) return undefined;
      const bytes = readHexString(text, wildcards);
      if (bytes === null)
        return value.fail(
          `${label} must be hex digits${wildcards ? ' (x for a nibble to ignore)' : ''} in groups separated by blanks, got ${quote(text)}`,
        );
      if (bytes.data.length > UDP_MAX_PAYLOAD)
        return value.fail(`${label} must be at most ${UDP_MAX_PAYLOAD} bytes, got ${bytes.data.length}`);
      return bytes;
    },
    schema: () => ({ type: 'string', pattern }),
    summary: wildcards
      ? 'hex string, `x` ignores a nibble (e.g. `"0a 1x ff"`)'
      : 'hex string (e.g. `"0a1b ff"`)',
  };
}

const REPLY_HEX = hexBytes(true, 'require_reply');
const REQUIRE_REPLY: ValueType<boolean | HexBytes> = {
  read: (value) =>
    isScalar(value.node) && typeof value.node.value === 'boolean' ? value.node.value : REPLY_HEX.read(value),
  schema: () => ({ anyOf: [{ type: 'boolean' }, REPLY_HEX.schema()] }),
  summary: "`true`, `false`, or the reply's first bytes as a hex string (`x` ignores a nibble)",
};

function dnsName(value: Value): string | undefined {
  const text = value.string(254);
  if (text === undefined) return undefined;
  const problem = dnsNameProblem(text);
  return problem === null ? text : value.fail(`query_name ${quote(text)} ${problem}`);
}

/** A HELO argument goes on one line of the SMTP dialogue. */
function heloName(value: Value): string | undefined {
  const text = value.string(255);
  if (text === undefined) return undefined;
  return /^\S+$/.test(text)
    ? text
    : value.fail(`helo_name must be one word without blanks, got ${quote(text)}`);
}

const TIMING_KEYS: readonly CheckKey[] = [
  'interval',
  'timeout',
  'retry',
  'delay_before_retry',
  'rise',
  'warmup',
  'initial_state',
];
const TARGET_KEYS: readonly CheckKey[] = ['connect_ip', 'connect_port', 'bind_ip'];
const HTTP_KEYS: readonly CheckKey[] = ['path', 'status', 'digest', 'host', 'urls'];
/** keepalived has no limit; each url is one more request per interval. */
const MAX_URLS = 64;

/** The keys (besides `type`) that each type of check takes. */
const KEYS_BY_TYPE: Readonly<Record<CheckType, readonly CheckKey[]>> = {
  none: [],
  tcp: [...TIMING_KEYS, ...TARGET_KEYS],
  http: [...TIMING_KEYS, ...TARGET_KEYS, ...HTTP_KEYS],
  https: [...TIMING_KEYS, ...TARGET_KEYS, ...HTTP_KEYS, 'sni', 'verify_tls'],
  script: [...TIMING_KEYS, 'script'],
  dns: [...TIMING_KEYS, ...TARGET_KEYS, 'query_type', 'query_name'],
  udp: [...TIMING_KEYS, ...TARGET_KEYS, 'payload', 'require_reply', 'min_reply_length', 'max_reply_length'],
  ping: [...TIMING_KEYS, 'connect_ip', 'bind_ip'],
  smtp: [...TIMING_KEYS, ...TARGET_KEYS, 'helo_name'],
  file: [...TIMING_KEYS, 'file', 'weight', 'reverse'],
};

const URL_KEYWORDS = {
  path: key(
    patterned(String.raw`^/\S*$`, 'URL path', urlPath),
    { description: 'path of the GET request', required: true },
    (d: UrlValues, x) => {
      d.path = x;
    },
  ),
  status: key(
    STATUS,
    { description: 'status codes that pass', defaultText: "the check's `status`" },
    (d: UrlValues, x) => {
      d.status = x;
    },
  ),
  digest: key(
    patterned('^[0-9a-fA-F]{32}$', '32 hex digits', md5Digest),
    { description: 'MD5 of the whole body', defaultText: "the check's `digest`" },
    (d: UrlValues, x) => {
      d.digest = x;
    },
  ),
} satisfies KeywordTable<UrlValues>;

/** The check types that take `key`, for the docs. */
function typesOf(key: CheckKey): readonly string[] {
  return CHECK_TYPES.filter((t) => KEYS_BY_TYPE[t].includes(key));
}

/** Keyword for check key `name`: its value type, its doc (with the types it applies to) and its draft slot. */
function checkKey<K extends CheckKey>(
  name: K,
  type: ValueType<NonNullable<CheckValues[K]>>,
  doc: Omit<KeyDoc<NonNullable<CheckValues[K]>>, 'appliesTo'>,
): Keyword<CheckValues> & { readonly default: NonNullable<CheckValues[K]> } {
  return key(
    type,
    { ...doc, appliesTo: typesOf(name) } as KeyDoc<NonNullable<CheckValues[K]>> & {
      default: NonNullable<CheckValues[K]>;
    },
    (d: CheckValues, x) => {
      Object.assign(d, { [name]: x });
    },
  );
}

export const CHECK_KEYWORDS = {
  type: key(
    oneOf(CHECK_TYPES),
    {
      description: 'what the check does; `none`: the real server is always up',
      defaultText: '`tcp` for tcp and fwmark services, `none` for udp and sctp ones',
    },
    (d: CheckValues, x) => {
      d.type = x;
    },
  ),
  interval: checkKey('interval', duration({ exclusiveMin: true, max: MAX_CHECK_DURATION_MS }), {
    description: 'time between checks',
    default: 2000,
  }),
  timeout: checkKey('timeout', duration({ exclusiveMin: true, max: MAX_CHECK_DURATION_MS }), {
    description: 'time limit of one attempt',
    defaultText: 'the interval, at most 1s',
  }),
  retry: checkKey('retry', int(1, MAX_CHECK_COUNT), {
    description: 'consecutive failures before down',
    default: 1,
  }),
  delay_before_retry: checkKey('delay_before_retry', duration({ max: MAX_CHECK_DURATION_MS }), {
    description: 'pause before a retry',
    default: 1000,
  }),
  rise: checkKey('rise', int(1, MAX_CHECK_COUNT), {
    description: 'consecutive successes before up',
    default: 1,
  }),
  warmup: checkKey('warmup', duration({ max: MAX_CHECK_DURATION_MS }), {
    description: 'longest random delay before the first check (spreads the checks out)',
    default: 0,
  }),
  initial_state: checkKey('initial_state', oneOf(['up', 'down'] as const), {
    description: 'health before the first verdict; `down` waits for `rise` successes',
    default: 'up',
  }),
  connect_ip: checkKey('connect_ip', ip(), {
    description: 'address to connect to',
    defaultText: "the real server's",
  }),
  connect_port: checkKey('connect_port', int(1, 65535), {
    description: 'port to connect to',
    defaultText: "the real server's",
  }),
  bind_ip: checkKey('bind_ip', ip(), { description: 'source address of the check', defaultText: 'none' }),
  path: checkKey('path', patterned(String.raw`^/\S*$`, 'URL path', urlPath), {
    description: 'path of the GET request',
    default: '/',
  }),
  status: checkKey('status', STATUS, {
    description: 'status codes that pass',
    default: [{ min: 200, max: 200 }],
  }),
  digest: checkKey('digest', patterned('^[0-9a-fA-F]{32}$', '32 hex digits', md5Digest), {
    description: "MD5 of the whole body (as keepalived's genhash prints it)",
    defaultText: 'none',
  }),
  host: checkKey('host', string(MAX_HOST_CHARS), { description: 'Host header', defaultText: 'none' }),
  sni: checkKey('sni', string(MAX_HOST_CHARS), { description: 'TLS server name', defaultText: 'none' }),
  verify_tls: checkKey('verify_tls', bool(), {
    description: "verify the server's certificate",
    default: false,
  }),
  urls: checkKey('urls', listOf(section('url', URL_KEYWORDS), 'url', MAX_URLS, 1), {
    description:
      'several URLs instead of `path`: each is fetched, and all must pass (keepalived: several `url` blocks)',
    defaultText: 'the one `path`',
  }),
  script: checkKey('script', command(), {
    description:
      'program run without a shell in its own process group (killed at the timeout); exit 0 passes',
  }),
  query_type: checkKey('query_type', oneOf(Object.keys(DNS_QUERY_TYPES) as DnsQueryTypeName[]), {
    description: 'DNS query type (keepalived DNS_CHECK `type`)',
    default: 'SOA',
  }),
  query_name: checkKey(
    'query_name',
    patterned(String.raw`^(\.|[^.\s]+(\.[^.\s]+)*\.?)$`, 'DNS name', dnsName),
    {
      description: 'DNS name queried; `.` is the root',
      default: '.',
    },
  ),
  payload: checkKey('payload', hexBytes(false, 'payload'), {
    description: "bytes sent; without it keepalived's 32-byte filler",
    defaultText: '"keepalived check - …" (32 bytes)',
  }),
  require_reply: checkKey('require_reply', REQUIRE_REPLY, {
    description:
      'fail without a reply; with hex bytes the reply must also match them up to the shorter of the two, and its length lie in min/max_reply_length',
    default: false,
  }),
  min_reply_length: checkKey('min_reply_length', int(0, UDP_MAX_REPLY_LIMIT), {
    description: 'shortest matching reply, in bytes (with `require_reply` bytes)',
    default: 0,
  }),
  max_reply_length: checkKey('max_reply_length', int(0, UDP_MAX_REPLY_LIMIT), {
    description: 'longest matching reply, in bytes (with `require_reply` bytes)',
    default: UDP_DEFAULT_MAX_REPLY,
  }),
  helo_name: checkKey('helo_name', patterned(String.raw`^\S+$`, 'one word', heloName), {
    description: 'argument of the HELO command',
    default: SMTP_DEFAULT_HELO,
  }),
  file: checkKey('file', absolutePath(), {
    description: 'file holding a number (read at every interval, as keepalived track_file)',
  }),
  weight: checkKey('weight', int(-INT32_MAX, INT32_MAX), {
    description:
      "multiplier of the number; 0: non-zero fails, zero passes; otherwise the product is added to the real server's weight (the sum within 0..2147483647) and fails only when it reaches -2147483648",
    default: 1,
  }),
  reverse: checkKey('reverse', bool(), {
    description: 'negate the product (with weight 0: zero fails, non-zero passes)',
    default: false,
  }),
} satisfies KeywordTable<CheckValues>;

/** A check block as a keyword's value: read into a draft; its type fit is checked by the caller. */
export function checkType(): ValueType<CheckDraft> {
  return {
    read: readCheck,
    schema: () => tableSchema(CHECK_KEYWORDS),
    summary: 'map',
    nested: { table: () => CHECK_KEYWORDS, shape: 'map', heading: 'check' },
  };
}

function fits(type: CheckType, key: string): boolean {
  return key === 'type' || (KEYS_BY_TYPE[type] as readonly string[]).includes(key);
}

function listWords(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/** Reads a check block; type fit is checked separately, once the parent is known. */
export function readCheck(value: Value): CheckDraft | undefined {
  const values: CheckValues = {};
  const fields = readSection(value, 'check', CHECK_KEYWORDS, values);
  return fields === undefined ? undefined : { value, fields, values };
}

/** The type a block runs as, or null when its own `type` was invalid (already reported). */
function effectiveType(own: CheckDraft | null, parent: CheckDraft | null): CheckType | null {
  if (own?.fields.has('type') === true) return own.values.type ?? null;
  if (parent?.fields.has('type') === true) return parent.values.type ?? null;
  return 'tcp';
}

/** Reports keys of `draft` that its effective type does not take, and a script check without a script. */
export function validateCheck(draft: CheckDraft, parent: CheckDraft | null): void {
  const type = effectiveType(draft, parent);
  if (type === null) return;
  for (const [key, field] of draft.fields) {
    if (fits(type, key)) continue;
    const owners = CHECK_TYPES.filter((t) => fits(t, key));
    draft.value.ctx.report(
      field.keyNode,
      `key "${key}" is not valid for ${type} checks; it is for ${listWords(owners)} checks`,
    );
  }
  if (type === 'script' && !draft.fields.has('script') && parent?.fields.has('script') !== true) {
    draft.value.fail('script check is missing required key "script"');
  }
  if (type === 'file' && !draft.fields.has('file') && parent?.fields.has('file') !== true) {
    draft.value.fail('file check is missing required key "file"');
  }
  if (type === 'udp') {
    const min = draft.values.min_reply_length ?? parent?.values.min_reply_length ?? 0;
    const max = draft.values.max_reply_length ?? parent?.values.max_reply_length ?? UDP_DEFAULT_MAX_REPLY;
    if (min > max && (draft.fields.has('min_reply_length') || draft.fields.has('max_reply_length')))
      draft.value.fail(
        `min_reply_length ${min} is greater than max_reply_length ${max}: no reply could pass`,
      );
  }
  const urls = draft.fields.get('urls');
  if (urls !== undefined && draft.fields.has('path'))
    draft.value.ctx.report(urls.keyNode, 'give either "path" or "urls", not both');
}

/**
 * Every probe a real server's check block stands for: one, or for an http/https check with
 * `urls` one per url (each its own target, so each is retried on its own and the real server is up
 * only while all pass, as keepalived's HTTP_GET with several urls).
 */
export function effectiveChecks(
  own: CheckDraft | null,
  parent: CheckDraft | null,
  target: { readonly address: string; readonly port: number },
  source: SourcePos,
): CheckConfig[] {
  const check = effectiveCheck(own, parent, target, source);
  if (check.type !== 'http' && check.type !== 'https') return [check];
  // `urls` and `path` of the real server's block win over the virtual server's, as a pair.
  const ownsPath = own?.fields.has('path') === true || own?.fields.has('urls') === true;
  const urls = ownsPath ? own?.values.urls : (own?.values.urls ?? parent?.values.urls);
  if (urls === undefined || urls.length === 0) return [check];
  return urls.map((u) => ({
    ...check,
    path: u.path ?? check.path,
    status: u.status ?? check.status,
    digest: u.digest ?? check.digest,
  }));
}

/** The check a real server at `target` runs: `own` over `parent` over the defaults. */
export function effectiveCheck(
  own: CheckDraft | null,
  parent: CheckDraft | null,
  target: { readonly address: string; readonly port: number },
  source: SourcePos,
): CheckConfig {
  const type = effectiveType(own, parent) ?? 'tcp';
  const m: CheckValues = {};
  if (own !== null || parent !== null) {
    for (const key of KEYS_BY_TYPE[type]) {
      const v = own?.values[key] ?? parent?.values[key];
      if (v !== undefined) Object.assign(m, { [key]: v });
    }
  }
  if (type === 'none') return { type, source };
  const k = CHECK_KEYWORDS;
  // Every default is spelled out once, in the tcp check: every real server of a big config gets
  // one, so the common case is built without spreads, and the other types are made from it.
  const intervalMs = m.interval ?? k.interval.default;
  const tcp: TcpCheck = {
    type: 'tcp',
    intervalMs,
    timeoutMs: m.timeout ?? Math.min(intervalMs, MAX_DEFAULT_TIMEOUT_MS),
    retry: m.retry ?? k.retry.default,
    delayBeforeRetryMs: m.delay_before_retry ?? k.delay_before_retry.default,
    rise: m.rise ?? k.rise.default,
    warmupMs: m.warmup ?? k.warmup.default,
    initialState: m.initial_state ?? k.initial_state.default,
    source,
    connectIp: m.connect_ip ?? target.address,
    connectPort: m.connect_port ?? target.port,
    bindIp: m.bind_ip ?? null,
  };
  if (type === 'tcp') return tcp;
  const { type: _tcp, ...timingAndConnect } = tcp;
  if (type === 'script') {
    const { connectIp: _ip, connectPort: _port, bindIp: _bind, ...timing } = timingAndConnect;
    return { type, ...timing, argv: m.script ?? [] };
  }
  switch (type) {
    case 'dns':
      return {
        type,
        ...timingAndConnect,
        queryType: DNS_QUERY_TYPES[m.query_type ?? k.query_type.default],
        queryName: m.query_name ?? k.query_name.default,
      };
    case 'udp': {
      const reply = m.require_reply ?? k.require_reply.default;
      return {
        type,
        ...timingAndConnect,
        payload: m.payload?.data ?? null,
        requireReply: reply !== false,
        replyData: typeof reply === 'object' ? reply.data : null,
        replyMask: typeof reply === 'object' ? reply.mask : null,
        minReplyLength: m.min_reply_length ?? k.min_reply_length.default,
        maxReplyLength: m.max_reply_length ?? k.max_reply_length.default,
      };
    }
    case 'ping': {
      const { connectPort: _port, ...rest } = timingAndConnect;
      return { type, ...rest };
    }
    case 'smtp':
      return { type, ...timingAndConnect, heloName: m.helo_name ?? k.helo_name.default };
    case 'file': {
      const { connectIp: _ip, connectPort: _port, bindIp: _bind, ...timing } = timingAndConnect;
      return {
        type,
        ...timing,
        path: m.file ?? '',
        weight: m.weight ?? k.weight.default,
        reverse: m.reverse ?? k.reverse.default,
      };
    }
  }
  return {
    type,
    ...timingAndConnect,
    path: m.path ?? k.path.default,
    status: m.status ?? k.status.default,
    digest: m.digest ?? null,
    host: m.host ?? null,
    sni: m.sni ?? null,
    verifyTls: m.verify_tls ?? k.verify_tls.default,
  };
}
