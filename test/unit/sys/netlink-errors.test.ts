import { constants as osConstants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { IpvsdError, NetlinkError } from '../../../src/errors.js';
import {
  errnoDescription,
  errnoName,
  errnoNumber,
  isErrno,
  parseNetlinkFailure,
  toNetlinkError,
} from '../../../src/sys/netlink-errors.js';

/** What node-netlink's native layer throws/emits (src/binding.cc ErrnoException). */
function errnoException(errno: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { name: 'ErrnoException', errno, code, syscall: 'recvmsg' });
}

describe('errno table', () => {
  it.each([
    ['EPERM', 1],
    ['ENOENT', 2],
    ['ESRCH', 3],
    ['EINTR', 4],
    ['EIO', 5],
    ['ENXIO', 6],
    ['E2BIG', 7],
    ['EBADF', 9],
    ['EAGAIN', 11],
    ['ENOMEM', 12],
    ['EACCES', 13],
    ['EFAULT', 14],
    ['EBUSY', 16],
    ['EEXIST', 17],
    ['ENODEV', 19],
    ['EINVAL', 22],
    ['ENOSPC', 28],
    ['ERANGE', 34],
    ['EOPNOTSUPP', 95],
    ['EAFNOSUPPORT', 97],
    ['EADDRNOTAVAIL', 99],
    ['ENETUNREACH', 101],
    ['ENOBUFS', 105],
    ['ETIMEDOUT', 110],
    ['ENOTSUPP', 524],
  ])('%s is %d', (name, errno) => {
    expect(errnoNumber(name)).toBe(errno);
    expect(errnoName(errno)).toBe(name);
  });

  it('agrees with os.constants.errno for every name both know', () => {
    const osErrno = osConstants.errno as Record<string, number>;
    for (const [name, value] of Object.entries(osErrno)) {
      const ours = errnoNumber(name);
      if (ours !== undefined) expect([name, ours]).toEqual([name, value]);
    }
  });

  it('resolves aliases and falls back for unknown values', () => {
    expect(errnoNumber('EWOULDBLOCK')).toBe(11);
    expect(errnoNumber('ENOTSUP')).toBe(95);
    expect(errnoNumber('ENOSUCHTHING')).toBeUndefined();
    expect(errnoName(4000)).toBe('E4000');
    expect(errnoDescription(17)).toBe('file exists');
    expect(errnoDescription(4000)).toBe('unknown error 4000');
  });
});

describe('parseNetlinkFailure', () => {
  it('reads the errno name out of a kernel rejection', () => {
    expect(parseNetlinkFailure(new Error('Request rejected: ENOENT'))).toEqual({
      errno: 2,
      errnoName: 'ENOENT',
      kernelRejected: true,
      description: 'no such file or directory',
    });
  });

  it('reads kernel-internal errnos that util.getSystemErrorName cannot name', () => {
    expect(parseNetlinkFailure(new Error('Request rejected: Unknown system error -524'))).toMatchObject({
      errno: 524,
      errnoName: 'ENOTSUPP',
      kernelRejected: true,
    });
    expect(parseNetlinkFailure(new Error('Request rejected: -4000'))).toMatchObject({
      errno: 4000,
      errnoName: 'E4000',
      kernelRejected: true,
    });
  });

  it('reads native ErrnoExceptions (positive errno) and Node system errors (negative errno)', () => {
    const native = errnoException(
      105,
      'ENOBUFS',
      'Error when receiving Netlink message: no buffer space available',
    );
    expect(parseNetlinkFailure(native)).toMatchObject({
      errno: 105,
      errnoName: 'ENOBUFS',
      kernelRejected: false,
    });
    const system = Object.assign(new Error('bind failed'), { errno: -98, code: 'EADDRINUSE' });
    expect(parseNetlinkFailure(system)).toMatchObject({ errno: 98, errnoName: 'EADDRINUSE' });
    const codeOnly = Object.assign(new Error('x'), { code: 'EPERM' });
    expect(parseNetlinkFailure(codeOnly)).toMatchObject({ errno: 1, errnoName: 'EPERM' });
  });

  it('turns the request timeout into ETIMEDOUT', () => {
    expect(parseNetlinkFailure(new Error('Timeout has been reached'))).toEqual({
      errno: 110,
      errnoName: 'ETIMEDOUT',
      kernelRejected: false,
      description: 'no reply from the kernel in time',
    });
  });

  it('keeps errors without errno as errno 0', () => {
    expect(parseNetlinkFailure(new Error('Multipart message not terminated properly'))).toEqual({
      errno: 0,
      errnoName: 'UNKNOWN',
      kernelRejected: false,
      description: 'Multipart message not terminated properly',
    });
    expect(parseNetlinkFailure('boom')).toMatchObject({ errno: 0, description: 'boom' });
    expect(parseNetlinkFailure(new Error('Request rejected: ESOMETHING'))).toMatchObject({
      errno: 0,
      kernelRejected: true,
    });
  });
});

describe('toNetlinkError', () => {
  it('says what was being done, the errno name and its meaning', () => {
    const cause = new Error('Request rejected: EPERM');
    const err = toNetlinkError(cause, 'adding address 192.0.2.10/24 to eth0');
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toBeInstanceOf(IpvsdError);
    expect(err.message).toBe('adding address 192.0.2.10/24 to eth0: EPERM (operation not permitted)');
    expect(err.errno).toBe(1);
    expect(err.errnoName).toBe('EPERM');
    expect(err.code).toBe('IPVSD_ERR_PERMISSION');
    expect(err.cause).toBe(cause);
  });

  it('picks the code from the kind of failure unless one is given', () => {
    expect(toNetlinkError(new Error('Request rejected: EEXIST'), 'x').code).toBe('IPVSD_ERR_KERNEL_REJECTED');
    expect(toNetlinkError(new Error('Request rejected: EACCES'), 'x').code).toBe('IPVSD_ERR_PERMISSION');
    expect(toNetlinkError(new Error('Timeout has been reached'), 'x').code).toBe('IPVSD_ERR_NETLINK');
    expect(toNetlinkError(errnoException(105, 'ENOBUFS', 'e'), 'x').code).toBe('IPVSD_ERR_NETLINK');
    expect(
      toNetlinkError(new Error('Request rejected: EEXIST'), 'x', 'IPVSD_ERR_IPVS_UNAVAILABLE').code,
    ).toBe('IPVSD_ERR_IPVS_UNAVAILABLE');
  });

  it('uses request-specific descriptions when given', () => {
    const err = toNetlinkError(
      new Error('Request rejected: EEXIST'),
      'adding address 192.0.2.10/24 to eth0',
      undefined,
      {
        EEXIST: 'address already assigned to the interface',
      },
    );
    expect(err.message).toBe(
      'adding address 192.0.2.10/24 to eth0: EEXIST (address already assigned to the interface)',
    );
  });

  it('describes timeouts and errno-less failures plainly', () => {
    expect(toNetlinkError(new Error('Timeout has been reached'), 'listing addresses').message).toBe(
      'listing addresses: ETIMEDOUT (no reply from the kernel in time)',
    );
    const odd = toNetlinkError(new Error('Unexpected link message received'), 'listing addresses');
    expect(odd.message).toBe('listing addresses: Unexpected link message received');
    expect(odd.errno).toBe(0);
    expect(odd.errnoName).toBe('UNKNOWN');
  });

  it('adds context to a NetlinkError and keeps its errno', () => {
    const inner = toNetlinkError(new Error('Request rejected: ENODEV'), 'looking up interface eth9');
    const outer = toNetlinkError(inner, 'adding address 192.0.2.10/24');
    expect(outer.message).toBe(
      'adding address 192.0.2.10/24: looking up interface eth9: ENODEV (no such device)',
    );
    expect(outer.errno).toBe(19);
    expect(outer.code).toBe(inner.code);
    expect(outer.cause).toBe(inner);
  });

  it('isErrno matches by name', () => {
    const err = toNetlinkError(new Error('Request rejected: EADDRNOTAVAIL'), 'x');
    expect(isErrno(err, 'EADDRNOTAVAIL')).toBe(true);
    expect(isErrno(err, 'EEXIST')).toBe(false);
    expect(isErrno(new Error('Request rejected: EADDRNOTAVAIL'), 'EADDRNOTAVAIL')).toBe(false);
    expect(isErrno(toNetlinkError(new Error('?'), 'x'), 'UNKNOWN')).toBe(false);
  });
});
