/**
 * Every error ipvsd raises on purpose: a stable `code` for programs, a message for people, and the
 * original `cause`. Expected outcomes (a failed check, a malformed packet) are values, not errors.
 */

export type IpvsdErrorCode =
  | 'IPVSD_ERR_CONFIG_INVALID'
  | 'IPVSD_ERR_CONFIG_IO'
  | 'IPVSD_ERR_NETLINK'
  | 'IPVSD_ERR_IPVS_UNAVAILABLE'
  | 'IPVSD_ERR_PERMISSION'
  | 'IPVSD_ERR_KERNEL_REJECTED'
  | 'IPVSD_ERR_USAGE'
  /** The control socket: no daemon, a daemon that does not answer, or a socket already in use. */
  | 'IPVSD_ERR_CONTROL'
  /** A name the operator gave (a virtual or real server) that the running config does not have. */
  | 'IPVSD_ERR_NOT_FOUND'
  /** The `nft` program (full NAT's rules) is missing, failed or printed what ipvsd cannot read. */
  | 'IPVSD_ERR_NFTABLES'
  /** A bug: something threw that was not meant to. */
  | 'IPVSD_ERR_INTERNAL';

export class IpvsdError extends Error {
  readonly code: IpvsdErrorCode;

  constructor(code: IpvsdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IpvsdError';
    this.code = code;
  }
}

/** A netlink request the kernel answered with an error; `errno` is the positive errno (e.g. 22 for EINVAL). */
export class NetlinkError extends IpvsdError {
  readonly errno: number;
  readonly errnoName: string;

  constructor(
    code: IpvsdErrorCode,
    message: string,
    errno: number,
    errnoName: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.errnoName = errnoName;
  }
}

/** One config problem at a position; ConfigError carries all of them at once. */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** The longest message a config issue prints; a message is one line, whatever the input held. */
export const MAX_MESSAGE_CHARS = 400;

/**
 * Characters a terminal or a log reader could take for something else: C0 and C1 controls (ESC starts
 * terminal sequences), DEL, line and paragraph separators, bidirectional overrides and isolates, the
 * BOM, and lone surrogates (from text that was not UTF-8).
 */
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Whether `text` holds a character a config string may not: the unsafe ones above (surrogates
 * aside: a JS string from valid UTF-8 has none unpaired).
 */
export function hasUnsafeCharacters(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}

/** `text` with every unsafe character written as an escape (`\x1b`, `\n`, `\u202e`): one printable line. */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * `text` as a short double-quoted excerpt for messages: `"abc"`, or `"\x1b[31m…" (40000 characters)`
 * when longer than `max` characters. Cut before escaping (an escape is never cut in half, and quoting a
 * 40 KB line costs nothing); a cut through a surrogate pair leaves a lone half, which is escaped.
 */
export function quote(text: string, max = 40): string {
  const cut = text.length > max;
  const shown = escapeControl((cut ? text.slice(0, max) : text).replace(/["\\]/g, '\\$&'));
  return cut ? `"${shown}…" (${text.length} characters)` : `"${shown}"`;
}

/** `text` (a number or other unquoted value) as a short excerpt, cut and escaped as quote() does. */
export function excerpt(text: string, max = 40): string {
  const cut = text.length > max;
  const shown = escapeControl(cut ? text.slice(0, max) : text);
  return cut ? `${shown}… (${text.length} characters)` : shown;
}

/** One message as one bounded, printable line (the last guard: every config message goes through it). */
export function boundedMessage(message: string, max = MAX_MESSAGE_CHARS): string {
  const line = escapeControl(message.length > max ? message.slice(0, max) : message);
  return line.length <= max ? line : `${escapeControl(line.slice(0, max - 1))}…`;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  return `${boundedMessage(issue.file, 200)}:${issue.line}:${issue.col}: ${boundedMessage(issue.message)}`;
}

export class ConfigError extends IpvsdError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super('IPVSD_ERR_CONFIG_INVALID', issues.map(formatConfigIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
