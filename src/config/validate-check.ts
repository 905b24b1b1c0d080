/**
 * Health check blocks. A virtual server's `check` is the template; a real server's `check` overrides
 * it key by key, and may change the type: keys of the template that do not fit the new type are
 * simply not inherited, while keys written in the wrong place are errors. So a block is first read
 * into a draft (values converted, nothing defaulted), checked against its effective type, and only
 * then merged with its parent and defaulted into a CheckConfig for each real server.
 */
import { isScalar, isSeq } from 'yaml';
import { type Fields, type KeywordTable, readSection } from './keywords.js';
import type { CheckConfig, CheckType, SourcePos, StatusRange } from './types.js';
import { describeNode, type Value } from './values.js';

export const CHECK_TYPES: readonly CheckType[] = ['tcp', 'http', 'https', 'script', 'none'];

const DEFAULT_INTERVAL_MS = 2000;
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
}

type CheckKey = Exclude<keyof CheckValues, 'type'>;

export interface CheckDraft {
  readonly value: Value;
  readonly fields: Fields;
  readonly values: CheckValues;
}

/** `200`, `"200-299"`, or a list of them. */
function statusRanges(value: Value): StatusRange[] | undefined {
  const items = isSeq(value.node) ? value.list('status') : [value];
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
  const text = value.string();
  if (text === undefined) return undefined;
  if (text.startsWith('/') && !/\s/.test(text)) return text;
  return value.fail(`path must start with "/" and contain no blanks, got ${JSON.stringify(text)}`);
}

function md5Digest(value: Value): string | undefined {
  const text = value.string();
  if (text === undefined) return undefined;
  if (/^[0-9a-fA-F]{32}$/.test(text)) return text.toLowerCase();
  return value.fail(`digest must be 32 hex digits (an MD5 sum), got ${JSON.stringify(text)}`);
}

const CHECK_KEYWORDS: KeywordTable<CheckValues> = {
  type: (v, d) => {
    d.type = v.oneOf(CHECK_TYPES);
  },
  interval: (v, d) => {
    d.interval = v.duration({ exclusiveMin: true });
  },
  timeout: (v, d) => {
    d.timeout = v.duration({ exclusiveMin: true });
  },
  retry: (v, d) => {
    d.retry = v.int(1);
  },
  delay_before_retry: (v, d) => {
    d.delay_before_retry = v.duration();
  },
  rise: (v, d) => {
    d.rise = v.int(1);
  },
  warmup: (v, d) => {
    d.warmup = v.duration();
  },
  initial_state: (v, d) => {
    d.initial_state = v.oneOf(['up', 'down'] as const);
  },
  connect_ip: (v, d) => {
    d.connect_ip = v.ip()?.address;
  },
  connect_port: (v, d) => {
    d.connect_port = v.int(1, 65535);
  },
  bind_ip: (v, d) => {
    d.bind_ip = v.ip()?.address;
  },
  path: (v, d) => {
    d.path = urlPath(v);
  },
  status: (v, d) => {
    d.status = statusRanges(v);
  },
  digest: (v, d) => {
    d.digest = md5Digest(v);
  },
  host: (v, d) => {
    d.host = v.string();
  },
  sni: (v, d) => {
    d.sni = v.string();
  },
  verify_tls: (v, d) => {
    d.verify_tls = v.bool();
  },
  script: (v, d) => {
    d.script = v.command();
  },
};

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
const HTTP_KEYS: readonly CheckKey[] = ['path', 'status', 'digest', 'host'];

/** The keys (besides `type`) that each type of check takes. */
const KEYS_BY_TYPE: Readonly<Record<CheckType, readonly CheckKey[]>> = {
  none: [],
  tcp: [...TIMING_KEYS, ...TARGET_KEYS],
  http: [...TIMING_KEYS, ...TARGET_KEYS, ...HTTP_KEYS],
  https: [...TIMING_KEYS, ...TARGET_KEYS, ...HTTP_KEYS, 'sni', 'verify_tls'],
  script: [...TIMING_KEYS, 'script'],
};

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
  for (const key of KEYS_BY_TYPE[type]) {
    const v = own?.values[key] ?? parent?.values[key];
    if (v !== undefined) Object.assign(m, { [key]: v });
  }
  if (type === 'none') return { type, source };
  const intervalMs = m.interval ?? DEFAULT_INTERVAL_MS;
  const timing = {
    intervalMs,
    timeoutMs: m.timeout ?? Math.min(intervalMs, MAX_DEFAULT_TIMEOUT_MS),
    retry: m.retry ?? 1,
    delayBeforeRetryMs: m.delay_before_retry ?? 1000,
    rise: m.rise ?? 1,
    warmupMs: m.warmup ?? 0,
    initialState: m.initial_state ?? 'up',
    source,
  };
  if (type === 'script') return { type, ...timing, argv: m.script ?? [] };
  const connect = {
    connectIp: m.connect_ip ?? target.address,
    connectPort: m.connect_port ?? target.port,
    bindIp: m.bind_ip ?? null,
  };
  if (type === 'tcp') return { type, ...timing, ...connect };
  return {
    type,
    ...timing,
    ...connect,
    path: m.path ?? '/',
    status: m.status ?? [{ min: 200, max: 200 }],
    digest: m.digest ?? null,
    host: m.host ?? null,
    sni: m.sni ?? null,
    verifyTls: m.verify_tls ?? false,
  };
}
