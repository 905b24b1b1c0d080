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

export function formatConfigIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}: ${issue.message}`;
}

export class ConfigError extends IpvsdError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super('IPVSD_ERR_CONFIG_INVALID', issues.map(formatConfigIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
