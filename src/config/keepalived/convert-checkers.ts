/**
 * keepalived's DNS_CHECK, UDP_CHECK, PING_CHECK, SMTP_CHECK and FILE_CHECK, and the top-level
 * `track_file` blocks FILE_CHECK names, to ipvsd's dns, udp, ping, smtp and file checks. The
 * common checker options (delay_loop, connect_timeout, retry, …, connect_ip, connect_port,
 * bindto) are read and defaulted by convert-lvs.ts for every kind; here are only each kind's own
 * keywords and defaults, from keepalived's source:
 *
 * - DNS_CHECK (check_dns.c): `type` (default SOA, names compared case-insensitively: strcasecmp in
 *   dns_type_lookup), `name` (default the root). Its retry defaults to 3 (DNS_DEFAULT_RETRY) and
 *   its delay_before_retry to delay_loop (dns_check_handler: default_delay_before_retry = 0).
 * - UDP_CHECK (check_udp.c): `payload`, `require_reply [HEX]`, `min_reply_length` (0),
 *   `max_reply_length` (255), hex strings read as lib/parser.c read_hex_str does.
 * - PING_CHECK (check_ping.c): nothing of its own; no port.
 * - SMTP_CHECK (check_smtp.c): `helo_name` (default smtpchecker.keepalived.org); the deprecated
 *   `host` sub-blocks are refused (one checker per host says the same).
 * - FILE_CHECK (check_file.c): `track_file NAME`, `weight N [reverse|noreverse]` (default: the
 *   track file's); none of the common options, so its timing is ipvsd's reading of the file at a
 *   1 s interval (keepalived reacts to inotify). The value × weight is added to the real server's
 *   weight in both.
 * - track_file (trackers/track_file.c): `file`, `weight N [reverse]` (−254..254, default 1),
 *   `init_file [VALUE] [overwrite]`.
 */

import { DNS_QUERY_TYPES, dnsNameProblem } from '../../check/dns-message.js';
import { readHexString, UDP_MAX_REPLY_LIMIT } from '../../check/udp-payload.js';
import { quote } from '../../errors.js';
import { INT32_MAX } from '../../model/track-file.js';
import type { TrackFileDraft } from './convert-vrrp-extra.js';
import type { Diagnostics, Place } from './diagnostics.js';
import type { Statement } from './parser.js';
import type { Token } from './tokenizer.js';
import { arity, int, single } from './values.js';
import { type DroppedTable, type Handlers, needsBlock, refuse, register, walk, warn } from './walk.js';

export const EXTRA_CHECKER_KINDS = ['DNS_CHECK', 'UDP_CHECK', 'PING_CHECK', 'SMTP_CHECK'] as const;
export type ExtraCheckerKind = (typeof EXTRA_CHECKER_KINDS)[number];

export function isExtraCheckerKind(kind: string): kind is ExtraCheckerKind {
  return (EXTRA_CHECKER_KINDS as readonly string[]).includes(kind);
}

/** The keywords of DNS/UDP/SMTP checkers, on the checker's draft. */
export interface ExtraCheckerFields {
  readonly kind: string;
  dnsType?: string;
  dnsName?: string;
  payload?: string;
  /** true: a reply is required; a string: it must also match these hex bytes. */
  requireReply?: true | string;
  minReplyLength?: number;
  maxReplyLength?: number;
  heloName?: string;
  file?: FileCheckDraft;
}

/** Only in the checker that owns the keyword; keepalived's parser would not know it elsewhere. */
function only<D extends ExtraCheckerFields>(
  kind: ExtraCheckerKind,
  handler: (s: Statement, x: D, d: Diagnostics) => void,
): (s: Statement, x: D, d: Diagnostics) => void {
  return (s, x, d) => {
    if (x.kind !== kind) {
      d.error(s.keyword, `${s.keyword.text} belongs in ${kind}, not ${x.kind}`);
      return;
    }
    handler(s, x, d);
  };
}

/** The hex words of a statement as one string, as make_strvec_str joins them (with spaces). */
function hexWords(s: Statement): string {
  return s.args.map((t) => t.text).join(' ');
}

export function extraCheckerHandlers<D extends ExtraCheckerFields>(): Handlers<D> {
  return {
    type: only('DNS_CHECK', (s, x, d) => {
      const t = single(s, d);
      if (t === undefined) return;
      const name = Object.keys(DNS_QUERY_TYPES).find((k) => k.toLowerCase() === t.text.toLowerCase());
      if (name === undefined) {
        // keepalived logs "Unknown DNS check type" and keeps SOA: the check would query SOA.
        d.error(
          t,
          `DNS_CHECK type must be one of ${Object.keys(DNS_QUERY_TYPES).join(', ')}, got ${quote(t.text)}`,
        );
        return;
      }
      x.dnsType = name;
    }),
    name: only('DNS_CHECK', (s, x, d) => {
      const t = single(s, d);
      if (t === undefined) return;
      if (x.dnsName !== undefined) {
        d.warn(t, 'DNS_CHECK name already specified: keepalived keeps the first, so does the conversion');
        return;
      }
      const problem = dnsNameProblem(t.text);
      if (problem !== null) {
        d.error(t, `DNS_CHECK name ${quote(t.text)} ${problem}`);
        return;
      }
      x.dnsName = t.text;
    }),
    payload: only('UDP_CHECK', (s, x, d) => {
      if (!arity(s, d, 1, 4096)) return;
      if (readHexString(hexWords(s), false) === null) {
        d.error(s.args[0] as Token, `UDP_CHECK payload must be hex digits, got ${quote(hexWords(s))}`);
        return;
      }
      x.payload = hexWords(s);
    }),
    require_reply: only('UDP_CHECK', (s, x, d) => {
      if (s.args.length === 0) {
        x.requireReply = true;
        return;
      }
      if (!arity(s, d, 1, 4096)) return;
      if (readHexString(hexWords(s), true) === null) {
        d.error(
          s.args[0] as Token,
          `UDP_CHECK require_reply must be hex digits (x ignores one), got ${quote(hexWords(s))}`,
        );
        return;
      }
      x.requireReply = hexWords(s);
    }),
    min_reply_length: only('UDP_CHECK', (s, x, d) => {
      x.minReplyLength = int(single(s, d), d, 'min_reply_length', 0, UDP_MAX_REPLY_LIMIT);
    }),
    max_reply_length: only('UDP_CHECK', (s, x, d) => {
      x.maxReplyLength = int(single(s, d), d, 'max_reply_length', 0, UDP_MAX_REPLY_LIMIT);
    }),
    helo_name: only('SMTP_CHECK', (s, x, d) => {
      const t = single(s, d);
      if (t === undefined) return;
      if (!/^\S+$/.test(t.text)) {
        d.error(t, `helo_name must be one word without blanks, got ${quote(t.text)}`);
        return;
      }
      x.heloName = t.text;
    }),
  };
}

export const EXTRA_CHECKER_DROPPED: DroppedTable = {
  host: refuse('the deprecated SMTP_CHECK host blocks are not converted: write one SMTP_CHECK per host'),
};

/** A checker's own keys, given the common ones already written into `check` (type included). */
export function extraCheckOut(
  x: ExtraCheckerFields & { readonly at: Place },
  check: Record<string, unknown>,
  d: Diagnostics,
): void {
  switch (x.kind) {
    case 'DNS_CHECK':
      check.query_type = x.dnsType ?? 'SOA';
      check.query_name = x.dnsName ?? '.';
      return;
    case 'UDP_CHECK':
      if (x.payload !== undefined) check.payload = x.payload;
      if (x.requireReply !== undefined) check.require_reply = x.requireReply;
      if (x.minReplyLength !== undefined) check.min_reply_length = x.minReplyLength;
      if (x.maxReplyLength !== undefined) check.max_reply_length = x.maxReplyLength;
      if ((x.minReplyLength ?? 0) > (x.maxReplyLength ?? 255))
        d.error(
          x.at,
          `UDP_CHECK min_reply_length ${x.minReplyLength} > max_reply_length ${x.maxReplyLength ?? 255}: it would always fail`,
        );
      else if (
        typeof x.requireReply !== 'string' &&
        (x.minReplyLength !== undefined || x.maxReplyLength !== undefined)
      )
        d.warn(
          x.at,
          'UDP_CHECK min/max_reply_length only apply with require_reply bytes (check_udp.c check_udp_reply); they change nothing here',
        );
      return;
    case 'SMTP_CHECK':
      check.helo_name = x.heloName ?? 'smtpchecker.keepalived.org';
      return;
  }
}

/** ipvsd's type for a keepalived checker kind. */
export const EXTRA_TYPE: Readonly<Record<ExtraCheckerKind, string>> = {
  DNS_CHECK: 'dns',
  UDP_CHECK: 'udp',
  PING_CHECK: 'ping',
  SMTP_CHECK: 'smtp',
};

/* ---- FILE_CHECK and track_file ---- */

export interface FileCheckDraft {
  readonly at: Place;
  trackFile?: Token;
  weight?: number;
  reverse?: boolean;
}

/** weight N [reverse|noreverse], within ±limit; undefined when reported. */
function weightWords(
  s: Statement,
  d: Diagnostics,
  limit: number,
  options: readonly string[],
): { weight: number; reverse: boolean } | undefined {
  if (!arity(s, d, 1, 2)) return undefined;
  const weight = int(s.args[0], d, 'weight', -limit, limit);
  if (weight === undefined) return undefined;
  const option = s.args[1];
  if (option !== undefined && !options.includes(option.text)) {
    d.error(option, `weight takes ${options.join(' or ')} after the number, got ${quote(option.text)}`);
    return undefined;
  }
  return { weight, reverse: option?.text === 'reverse' };
}

const FILE_CHECK_HANDLERS = register<FileCheckDraft>(
  ['FILE_CHECK'],
  {
    track_file: (s, x, d) => {
      x.trackFile = single(s, d);
    },
    weight: (s, x, d) => {
      // check_file.c track_file_weight_handler: ±IPVS_WEIGHT_LIMIT, reverse or noreverse.
      const w = weightWords(s, d, INT32_MAX, ['reverse', 'noreverse']);
      if (w === undefined) return;
      x.weight = w.weight;
      x.reverse = w.reverse;
    },
  },
  {
    dynamic: warn(
      'not a FILE_CHECK keyword of keepalived 2.2 (which ignores it); the weight already follows the file, value × weight',
    ),
  },
);

export function readFileCheck(s: Statement, d: Diagnostics): FileCheckDraft | undefined {
  if (!arity(s, d, 0) || !needsBlock(s, d)) return undefined;
  const draft: FileCheckDraft = { at: s.keyword };
  walk(s.block, 'FILE_CHECK', FILE_CHECK_HANDLERS, {}, draft, d);
  return draft;
}

/** keepalived reads a file check at once; ipvsd reads it at this interval. */
const FILE_CHECK_INTERVAL = '1s';

/** A FILE_CHECK as an ipvsd file check. */
export function fileCheckOut(
  f: FileCheckDraft,
  trackFiles: ReadonlyMap<string, TrackFileDraft>,
  d: Diagnostics,
): Record<string, unknown> | undefined {
  if (f.trackFile === undefined) return d.error(f.at, 'FILE_CHECK has no track_file');
  const tf = trackFiles.get(f.trackFile.text);
  if (tf === undefined) return d.error(f.trackFile, `track_file ${f.trackFile.text} is not defined`);
  // check_file.c file_end_handler: without its own weight the checker takes the track file's.
  const weight = f.weight ?? tf.weight ?? 1;
  const reverse = f.weight === undefined ? (tf.reverse ?? false) : (f.reverse ?? false);
  // The same weight means the same in ipvsd: value × weight is added to the real server's weight
  // (trackers/track_file.c process_update_checker_track_file_status), the sum clamped to
  // 0..INT32_MAX (check_data.h real_weight); a product at INT_MIN is the failure.
  return {
    type: 'file',
    interval: FILE_CHECK_INTERVAL,
    timeout: FILE_CHECK_INTERVAL,
    retry: 1,
    delay_before_retry: '0s',
    warmup: '0s',
    file: tf.path,
    weight,
    reverse,
  };
}
