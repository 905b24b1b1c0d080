/**
 * Turns whatever node-netlink rejects with into a NetlinkError that keeps the errno. node-netlink
 * reports a kernel NLMSG_ERROR as a plain `Error('Request rejected: EEXIST')` (the name comes from
 * `util.getSystemErrorName`, which yields `Unknown system error -524` for kernel-internal errnos
 * such as ENOTSUPP), socket failures as native `ErrnoException`s with a positive `errno` and a
 * `code`, and a lapsed request timeout as `Error('Timeout has been reached')`. Callers branch on
 * `errno`/`errnoName`; people read a message that says what was being done and why it failed.
 */
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { type IpvsdErrorCode, NetlinkError } from '../errors.js';

/** Linux errno values (asm-generic/errno-base.h, asm-generic/errno.h, linux/errno.h) with strerror-like text. */
const ERRNO_TABLE: readonly (readonly [name: string, errno: number, description: string])[] = [
  ['EPERM', 1, 'operation not permitted'],
  ['ENOENT', 2, 'no such file or directory'],
  ['ESRCH', 3, 'no such process'],
  ['EINTR', 4, 'interrupted system call'],
  ['EIO', 5, 'input/output error'],
  ['ENXIO', 6, 'no such device or address'],
  ['E2BIG', 7, 'argument list too long'],
  ['ENOEXEC', 8, 'exec format error'],
  ['EBADF', 9, 'bad file descriptor'],
  ['ECHILD', 10, 'no child processes'],
  ['EAGAIN', 11, 'resource temporarily unavailable'],
  ['ENOMEM', 12, 'cannot allocate memory'],
  ['EACCES', 13, 'permission denied'],
  ['EFAULT', 14, 'bad address'],
  ['EBUSY', 16, 'device or resource busy'],
  ['EEXIST', 17, 'file exists'],
  ['EXDEV', 18, 'invalid cross-device link'],
  ['ENODEV', 19, 'no such device'],
  ['ENOTDIR', 20, 'not a directory'],
  ['EISDIR', 21, 'is a directory'],
  ['EINVAL', 22, 'invalid argument'],
  ['ENFILE', 23, 'too many open files in system'],
  ['EMFILE', 24, 'too many open files'],
  ['ENOTTY', 25, 'inappropriate ioctl for device'],
  ['EFBIG', 27, 'file too large'],
  ['ENOSPC', 28, 'no space left on device'],
  ['ESPIPE', 29, 'illegal seek'],
  ['EROFS', 30, 'read-only file system'],
  ['EMLINK', 31, 'too many links'],
  ['EPIPE', 32, 'broken pipe'],
  ['EDOM', 33, 'numerical argument out of domain'],
  ['ERANGE', 34, 'numerical result out of range'],
  ['EDEADLK', 35, 'resource deadlock avoided'],
  ['ENAMETOOLONG', 36, 'file name too long'],
  ['ENOLCK', 37, 'no locks available'],
  ['ENOSYS', 38, 'function not implemented'],
  ['ENOTEMPTY', 39, 'directory not empty'],
  ['ELOOP', 40, 'too many levels of symbolic links'],
  ['ENOMSG', 42, 'no message of desired type'],
  ['ENODATA', 61, 'no data available'],
  ['ETIME', 62, 'timer expired'],
  ['ENOLINK', 67, 'link has been severed'],
  ['EPROTO', 71, 'protocol error'],
  ['EBADMSG', 74, 'bad message'],
  ['EOVERFLOW', 75, 'value too large for defined data type'],
  ['EILSEQ', 84, 'invalid or incomplete multibyte or wide character'],
  ['ENOTSOCK', 88, 'socket operation on non-socket'],
  ['EDESTADDRREQ', 89, 'destination address required'],
  ['EMSGSIZE', 90, 'message too long'],
  ['EPROTOTYPE', 91, 'protocol wrong type for socket'],
  ['ENOPROTOOPT', 92, 'protocol not available'],
  ['EPROTONOSUPPORT', 93, 'protocol not supported'],
  ['ESOCKTNOSUPPORT', 94, 'socket type not supported'],
  ['EOPNOTSUPP', 95, 'operation not supported'],
  ['EPFNOSUPPORT', 96, 'protocol family not supported'],
  ['EAFNOSUPPORT', 97, 'address family not supported by protocol'],
  ['EADDRINUSE', 98, 'address already in use'],
  ['EADDRNOTAVAIL', 99, 'cannot assign requested address'],
  ['ENETDOWN', 100, 'network is down'],
  ['ENETUNREACH', 101, 'network is unreachable'],
  ['ENETRESET', 102, 'network dropped connection on reset'],
  ['ECONNABORTED', 103, 'software caused connection abort'],
  ['ECONNRESET', 104, 'connection reset by peer'],
  ['ENOBUFS', 105, 'no buffer space available'],
  ['EISCONN', 106, 'transport endpoint is already connected'],
  ['ENOTCONN', 107, 'transport endpoint is not connected'],
  ['ESHUTDOWN', 108, 'cannot send after transport endpoint shutdown'],
  ['ETIMEDOUT', 110, 'connection timed out'],
  ['ECONNREFUSED', 111, 'connection refused'],
  ['EHOSTDOWN', 112, 'host is down'],
  ['EHOSTUNREACH', 113, 'no route to host'],
  ['EALREADY', 114, 'operation already in progress'],
  ['EINPROGRESS', 115, 'operation now in progress'],
  ['ESTALE', 116, 'stale file handle'],
  ['EDQUOT', 122, 'disk quota exceeded'],
  ['ECANCELED', 125, 'operation canceled'],
  ['ERFKILL', 132, 'operation not possible due to RF-kill'],
  // Kernel-internal values (include/linux/errno.h) that still leak out of some netlink handlers.
  ['ERESTARTSYS', 512, 'interrupted system call (restart)'],
  ['ENOTSUPP', 524, 'operation not supported by the kernel'],
];

/** Aliases that name the same errno as a table entry. */
const ERRNO_ALIASES: Readonly<Record<string, string>> = {
  EWOULDBLOCK: 'EAGAIN',
  ENOTSUP: 'EOPNOTSUPP',
  EDEADLOCK: 'EDEADLK',
};

const BY_NAME = new Map<string, { errno: number; description: string }>();
const BY_NUMBER = new Map<number, { name: string; description: string }>();
for (const [name, errno, description] of ERRNO_TABLE) {
  BY_NAME.set(name, { errno, description });
  BY_NUMBER.set(errno, { name, description });
}

/** The errno number for a name such as `EEXIST`, or undefined when unknown. */
export function errnoNumber(name: string): number | undefined {
  const canonical = ERRNO_ALIASES[name] ?? name;
  const known = BY_NAME.get(canonical)?.errno;
  if (known !== undefined) return known;
  const fromOs = (osConstants.errno as Record<string, number | undefined>)[canonical];
  return typeof fromOs === 'number' ? fromOs : undefined;
}

/** The name for a positive errno (`17` → `EEXIST`); `E<n>` when unknown. */
export function errnoName(errno: number): string {
  const known = BY_NUMBER.get(errno)?.name;
  if (known !== undefined) return known;
  const fromLibuv = systemErrorMap().get(-errno)?.[0];
  return fromLibuv ?? `E${errno}`;
}

/** strerror-like text for a positive errno. */
export function errnoDescription(errno: number): string {
  const known = BY_NUMBER.get(errno)?.description;
  if (known !== undefined) return known;
  return systemErrorMap().get(-errno)?.[1] ?? `unknown error ${errno}`;
}

let cachedSystemErrorMap: Map<number, [string, string]> | undefined;
function systemErrorMap(): Map<number, [string, string]> {
  cachedSystemErrorMap ??= getSystemErrorMap();
  return cachedSystemErrorMap;
}

/** True when `err` is a NetlinkError carrying the named errno (`'EEXIST'`). */
export function isErrno(err: unknown, name: string): boolean {
  return err instanceof NetlinkError && err.errno !== 0 && err.errno === errnoNumber(name);
}

/** What toNetlinkError read out of a thrown value. */
export interface ParsedNetlinkFailure {
  /** Positive errno; 0 when the failure carried none (e.g. a malformed reply). */
  readonly errno: number;
  /** `EEXIST`, or `UNKNOWN` with errno 0. */
  readonly errnoName: string;
  /** True when the kernel answered the request with an NLMSG_ERROR. */
  readonly kernelRejected: boolean;
  /** strerror-like text for the errno, or the original message when there is no errno. */
  readonly description: string;
}

const REJECTED_PREFIX = 'Request rejected: ';
const TIMEOUT_MESSAGE = 'Timeout has been reached';

/** Reads the errno out of node-netlink's plain errors, native ErrnoExceptions and Node system errors. */
export function parseNetlinkFailure(err: unknown): ParsedNetlinkFailure {
  const message = err instanceof Error ? err.message : String(err);

  if (message.startsWith(REJECTED_PREFIX)) {
    const rest = message.slice(REJECTED_PREFIX.length).trim();
    const numeric = /^(?:Unknown system error )?(-?\d+)$/.exec(rest);
    if (numeric?.[1] !== undefined) {
      const errno = Math.abs(Number(numeric[1]));
      return {
        errno,
        errnoName: errnoName(errno),
        kernelRejected: true,
        description: errnoDescription(errno),
      };
    }
    const errno = errnoNumber(rest);
    if (errno !== undefined) {
      return {
        errno,
        errnoName: ERRNO_ALIASES[rest] ?? rest,
        kernelRejected: true,
        description: errnoDescription(errno),
      };
    }
    return {
      errno: 0,
      errnoName: 'UNKNOWN',
      kernelRejected: true,
      description: `kernel rejected the request: ${rest}`,
    };
  }

  if (message === TIMEOUT_MESSAGE) {
    const errno = errnoNumber('ETIMEDOUT') ?? 110;
    return {
      errno,
      errnoName: 'ETIMEDOUT',
      kernelRejected: false,
      description: 'no reply from the kernel in time',
    };
  }

  if (typeof err === 'object' && err !== null) {
    const fields = err as { errno?: unknown; code?: unknown };
    // Native ErrnoException: positive errno; Node system errors: negative errno.
    if (typeof fields.errno === 'number' && Number.isInteger(fields.errno) && fields.errno !== 0) {
      const errno = Math.abs(fields.errno);
      const name =
        typeof fields.code === 'string' && /^E[A-Z0-9]+$/.test(fields.code) ? fields.code : errnoName(errno);
      return { errno, errnoName: name, kernelRejected: false, description: errnoDescription(errno) };
    }
    if (typeof fields.code === 'string') {
      const errno = errnoNumber(fields.code);
      if (errno !== undefined) {
        return { errno, errnoName: fields.code, kernelRejected: false, description: errnoDescription(errno) };
      }
    }
  }

  return { errno: 0, errnoName: 'UNKNOWN', kernelRejected: false, description: message };
}

/**
 * Wraps a failure from node-netlink in a NetlinkError. `context` says what was being done
 * (`adding address 192.0.2.10/24 to eth0`); the message becomes
 * `adding address 192.0.2.10/24 to eth0: EPERM (operation not permitted)`.
 *
 * Without `code`: EPERM/EACCES → IPVSD_ERR_PERMISSION, any other kernel NLMSG_ERROR →
 * IPVSD_ERR_KERNEL_REJECTED, socket failures and timeouts → IPVSD_ERR_NETLINK.
 * `descriptions` replaces the generic strerror text for some errno names with what the errno
 * means for this request (`{ EEXIST: 'address already assigned' }`).
 * A NetlinkError passed in keeps its errno and gets the new context in front of its message.
 */
export function toNetlinkError(
  err: unknown,
  context: string,
  code?: IpvsdErrorCode,
  descriptions?: Readonly<Record<string, string>>,
): NetlinkError {
  if (err instanceof NetlinkError) {
    return new NetlinkError(code ?? err.code, `${context}: ${err.message}`, err.errno, err.errnoName, {
      cause: err,
    });
  }
  const failure = parseNetlinkFailure(err);
  const resolvedCode = code ?? defaultCode(failure);
  const message =
    failure.errno === 0
      ? `${context}: ${failure.description}`
      : `${context}: ${failure.errnoName} (${descriptions?.[failure.errnoName] ?? failure.description})`;
  return new NetlinkError(resolvedCode, message, failure.errno, failure.errnoName, { cause: err });
}

function defaultCode(failure: ParsedNetlinkFailure): IpvsdErrorCode {
  if (failure.errnoName === 'EPERM' || failure.errnoName === 'EACCES') return 'IPVSD_ERR_PERMISSION';
  return failure.kernelRejected ? 'IPVSD_ERR_KERNEL_REJECTED' : 'IPVSD_ERR_NETLINK';
}
