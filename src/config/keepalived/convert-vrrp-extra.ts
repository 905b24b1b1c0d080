/**
 * keepalived's virtual_routes / virtual_rules lines and track_file blocks, to ipvsd's
 * `virtual_routes` / `virtual_rules` entries and `vrrp_track_files`. The common subset converts
 * (what ipvsd's rtnetlink requests carry); every other word is refused at its position with what
 * to do instead. Sources: keepalived/vrrp/vrrp_iproute.c alloc_route, vrrp_iprule.c alloc_rule,
 * keepalived/trackers/track_file.c (track_file_handler and its sub-keywords).
 */
import { quote } from '../../errors.js';
import { parseCidr } from '../../sys/ip-address.js';
import type { Diagnostics, Place } from './diagnostics.js';
import type { Statement } from './parser.js';
import type { Token } from './tokenizer.js';
import { arity, int, single } from './values.js';
import { type DroppedTable, needsBlock, register, walk } from './walk.js';

type Obj = Record<string, unknown>;

/** The route types keepalived and ipvsd both know (rtnetlink RTN_*). */
const ROUTE_TYPES = new Set(['unicast', 'blackhole', 'unreachable', 'prohibit']);
/** The named tables of /etc/iproute2/rt_tables that keepalived resolves without the file. */
const NAMED_TABLES: Readonly<Record<string, number>> = { default: 253, main: 254, local: 255 };
const SCOPES: Readonly<Record<string, string>> = {
  global: 'global',
  universe: 'global',
  link: 'link',
  host: 'host',
};

function table(t: Token | undefined, d: Diagnostics): number | undefined {
  if (t === undefined) return undefined;
  const named = NAMED_TABLES[t.text];
  if (named !== undefined) return named;
  if (!/^\d+$/.test(t.text))
    return d.error(
      t,
      `table ${quote(t.text)}: ipvsd takes table numbers (it does not read /etc/iproute2/rt_tables)`,
    );
  return int(t, d, 'table', 1, 2 ** 32 - 1);
}

function prefix(
  t: Token | undefined,
  d: Diagnostics,
  what: string,
  allowDefault = false,
): string | undefined {
  if (t === undefined) return undefined;
  if (allowDefault && t.text === 'default') return 'default';
  try {
    const c = parseCidr(t.text);
    return `${c.address}/${c.prefixLength}`;
  } catch {
    return d.error(t, `${what} must be ADDRESS[/PREFIX], got ${quote(t.text)}`);
  }
}

function address(t: Token | undefined, d: Diagnostics, what: string): string | undefined {
  if (t === undefined) return undefined;
  try {
    const c = parseCidr(t.text);
    if (c.explicitPrefix) return d.error(t, `${what} must be an address, got ${quote(t.text)}`);
    return c.address;
  } catch {
    return d.error(t, `${what} must be an address, got ${quote(t.text)}`);
  }
}

/**
 * One virtual_routes line: `[TYPE] [to] PREFIX|default [src A] [via|gw A] [dev|oif IF]
 * [table T] [metric|priority|preference M] [scope S] [no_track]`. Undefined when refused.
 */
export function readRoute(entry: Statement, d: Diagnostics): Obj | undefined {
  const words = [entry.keyword, ...entry.args];
  const out: Obj = {};
  let ok = true;
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as Token;
    const next = (): Token | undefined => {
      i++;
      const t = words[i];
      if (t === undefined) d.error(w, `${w.text} needs a value`);
      return t;
    };
    switch (w.text) {
      case 'src':
        out.src = address(next(), d, 'src');
        break;
      case 'via':
      case 'gw':
        out.via = address(next(), d, w.text);
        break;
      case 'dev':
      case 'oif':
        out.dev = next()?.text;
        break;
      case 'table':
        out.table = table(next(), d);
        break;
      case 'metric':
      case 'priority':
      case 'preference':
        out.metric = int(next(), d, w.text, 0, 2 ** 32 - 1);
        break;
      case 'scope': {
        const t = next();
        const scope = t === undefined ? undefined : SCOPES[t.text];
        if (t !== undefined && scope === undefined) {
          d.error(t, `scope ${quote(t.text)} is not supported by ipvsd (global, link or host)`);
          ok = false;
        }
        out.scope = scope;
        break;
      }
      case 'no_track':
        d.warn(w, 'no_track is dropped: ipvsd does not watch its routes for deletion');
        break;
      case 'to':
        break;
      default: {
        if (ROUTE_TYPES.has(w.text) && out.to === undefined) {
          out.type = w.text;
          break;
        }
        if (out.to === undefined && (w.text === 'default' || /^[0-9a-fA-F:.]+(\/\d+)?$/.test(w.text))) {
          const to = prefix(w, d, 'route destination', true);
          if (to === undefined) ok = false;
          out.to = to;
          break;
        }
        d.error(
          w,
          `${quote(w.text)} in virtual_routes is not supported by ipvsd (it takes [TYPE] [to] PREFIX, src, via/gw, dev, table, metric, scope; TYPE one of unicast, blackhole, unreachable, prohibit); add such a route from a notify script instead`,
        );
        return undefined;
      }
    }
  }
  if (out.to === undefined) {
    d.error(entry.keyword, 'a virtual route needs a destination');
    return undefined;
  }
  if (!ok) return undefined;
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

const RULE_ACTIONS = new Set(['blackhole', 'unreachable', 'prohibit']);

/**
 * One virtual_rules line: `[from P] [to P] [fwmark M[/MASK]] [iif|dev IF] [oif IF]
 * [priority|preference|order N] [table|lookup T] [type blackhole|unreachable|prohibit] [no_track]`.
 */
export function readRule(entry: Statement, d: Diagnostics): Obj | undefined {
  const words = [entry.keyword, ...entry.args];
  const out: Obj = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as Token;
    const next = (): Token | undefined => {
      i++;
      const t = words[i];
      if (t === undefined) d.error(w, `${w.text} needs a value`);
      return t;
    };
    switch (w.text) {
      case 'from':
      case 'to': {
        const t = next();
        if (t?.text === 'all') break;
        const p = prefix(t, d, w.text);
        if (p === undefined) return undefined;
        out[w.text] = p;
        break;
      }
      case 'fwmark': {
        const t = next();
        if (t === undefined) return undefined;
        const [mark, mask] = t.text.split('/');
        const parse = (text: string | undefined) =>
          text === undefined ? undefined : /^(0x[0-9a-fA-F]+|\d+)$/.test(text) ? Number(text) : Number.NaN;
        const m = parse(mark);
        const k = parse(mask);
        if (m === undefined || Number.isNaN(m) || (k !== undefined && Number.isNaN(k))) {
          d.error(t, `fwmark must be MARK[/MASK] (numbers), got ${quote(t.text)}`);
          return undefined;
        }
        out.fwmark = m;
        if (k !== undefined) out.fwmask = k;
        break;
      }
      case 'iif':
      case 'dev':
        out.iif = next()?.text;
        break;
      case 'oif':
        out.oif = next()?.text;
        break;
      case 'priority':
      case 'preference':
      case 'order':
        out.priority = int(next(), d, w.text, 0, 2 ** 32 - 1);
        break;
      case 'table':
      case 'lookup':
        out.table = table(next(), d);
        break;
      case 'type': {
        const t = next();
        if (t === undefined) return undefined;
        if (!RULE_ACTIONS.has(t.text)) {
          d.error(
            t,
            `rule type ${quote(t.text)} is not supported by ipvsd (blackhole, unreachable, prohibit)`,
          );
          return undefined;
        }
        out.action = t.text;
        break;
      }
      case 'inet':
        out.family = 'inet';
        break;
      case 'inet6':
        out.family = 'inet6';
        break;
      case 'no_track':
        d.warn(w, 'no_track is dropped: ipvsd does not watch its rules for deletion');
        break;
      default:
        if (RULE_ACTIONS.has(w.text)) {
          out.action = w.text;
          break;
        }
        d.error(
          w,
          `${quote(w.text)} in virtual_rules is not supported by ipvsd (it takes from, to, fwmark, iif/dev, oif, priority, table/lookup, type blackhole|unreachable|prohibit); add such a rule from a notify script instead`,
        );
        return undefined;
    }
  }
  if (out.table === undefined && out.action === undefined) {
    d.error(entry.keyword, 'a virtual rule needs a table (or type blackhole|unreachable|prohibit)');
    return undefined;
  }
  if (out.family !== undefined && (out.from !== undefined || out.to !== undefined)) delete out.family;
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

export interface TrackFileDraft {
  readonly name: string;
  readonly at: Place;
  path?: string;
  weight?: number;
  reverse?: boolean;
  init?: number;
  overwrite?: boolean;
}

const TRACK_FILE_HANDLERS = register<TrackFileDraft>(['track_file', 'vrrp_track_file'], {
  file: (s, x, d) => {
    const t = single(s, d);
    if (t === undefined) return;
    // track_file.c track_file_file_handler: a second `file` is ignored.
    if (x.path !== undefined) {
      d.warn(t, `file already set for track_file ${x.name}: this one is ignored (as keepalived does)`);
      return;
    }
    if (!t.text.startsWith('/')) {
      d.error(
        t,
        `file ${quote(t.text)} must be an absolute path for ipvsd (keepalived resolves it from its directory)`,
      );
      return;
    }
    x.path = t.text;
  },
  weight: (s, x, d) => {
    if (!arity(s, d, 1, 2)) return;
    x.weight = int(s.args[0], d, 'weight', -254, 254);
    const option = s.args[1];
    if (option !== undefined) {
      if (option.text === 'reverse') x.reverse = true;
      else d.warn(option, `unknown weight option ${quote(option.text)} is ignored (as keepalived does)`);
    }
  },
  init_file: (s, x, d) => {
    x.init = 0;
    for (const t of s.args) {
      if (t.text === 'overwrite') x.overwrite = true;
      else {
        const n = int(t, d, 'init_file value', -(2 ** 31), 2 ** 31 - 1);
        if (n !== undefined) x.init = n;
      }
    }
  },
});

const TRACK_FILE_DROPPED: DroppedTable = {};

/** A top-level `track_file NAME { file …; weight …; init_file … }` (or the old vrrp_track_file). */
export function readTrackFileBlock(s: Statement, d: Diagnostics): TrackFileDraft | undefined {
  if (!arity(s, d, 1) || !needsBlock(s, d)) return undefined;
  if (s.keyword.text === 'vrrp_track_file')
    d.warn(s.keyword, 'vrrp_track_file is deprecated in keepalived (track_file); converted the same');
  const draft: TrackFileDraft = { name: (s.args[0] as Token).text, at: s.keyword };
  walk(s.block, `track_file ${draft.name}`, TRACK_FILE_HANDLERS, TRACK_FILE_DROPPED, draft, d);
  if (draft.path === undefined) {
    // track_file.c track_file_end_handler: "No file set for track_file - ignoring".
    d.warn(s.keyword, `track_file ${draft.name} has no file: dropped (as keepalived does)`);
    return undefined;
  }
  return draft;
}

export function trackFileOut(t: TrackFileDraft): Obj {
  const out: Obj = { file: t.path };
  if (t.weight !== undefined && t.weight !== 1) out.weight = t.weight;
  if (t.reverse === true) out.reverse = true;
  if (t.init !== undefined) {
    out.init_file = t.init;
    if (t.overwrite === true) out.init_overwrite = true;
  }
  return out;
}

export interface TrackFileRefDraft {
  readonly name: string;
  readonly weight?: number;
  readonly reverse?: boolean;
  readonly at: Place;
}

/** One line of a track_file block in an instance: `NAME [weight N [reverse|noreverse]]`. */
export function readTrackFileRef(entry: Statement, d: Diagnostics): TrackFileRefDraft | undefined {
  const [kw, value, option] = entry.args;
  if (kw === undefined) return { name: entry.keyword.text, at: entry.keyword };
  if (kw.text !== 'weight') {
    // track_file.c vrrp_alloc_track_file: "unknown track file option - ignoring".
    d.warn(
      kw,
      `unknown track file option ${quote(kw.text)}: ${entry.keyword.text} is not tracked (as keepalived does)`,
    );
    return undefined;
  }
  const weight = int(value, d, 'weight', -254, 254);
  if (weight === undefined) return undefined;
  if (option !== undefined && option.text !== 'reverse' && option.text !== 'noreverse') {
    d.warn(
      option,
      `unknown weight option ${quote(option.text)}: ${entry.keyword.text} is not tracked (as keepalived does)`,
    );
    return undefined;
  }
  return {
    name: entry.keyword.text,
    weight,
    ...(option !== undefined ? { reverse: option.text === 'reverse' } : {}),
    at: entry.keyword,
  };
}
