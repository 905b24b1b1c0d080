/**
 * Turns a kernel errno for an IPVS command into a message an operator can act on. The kernel only
 * says "EINVAL"; which EINVAL it is depends on what was asked, so the operation picks the words.
 */
import { constants } from 'node:os';
import { NetlinkError } from '../errors.js';
import { destinationKeyString, type IpvsOperation, serviceKeyString } from '../model/ipvs.js';
import { errnoName } from '../sys/netlink-errors.js';

const { EPERM, ENOENT, ESRCH, EACCES, EEXIST, EINVAL } = constants.errno;

export const NO_PERMISSION_HINT =
  'IPVS needs CAP_NET_ADMIN: run as root, or grant the capability (systemd: AmbientCapabilities=CAP_NET_ADMIN)';

export function ipvsUnavailable(cause?: unknown): NetlinkError {
  return new NetlinkError(
    'IPVSD_ERR_IPVS_UNAVAILABLE',
    'the kernel has no IPVS (generic netlink family "IPVS" not found): load it with `modprobe ip_vs`, or use a kernel built with CONFIG_IP_VS',
    ENOENT,
    'ENOENT',
    { cause },
  );
}

export function permissionDenied(errno: number, what: string): NetlinkError {
  return new NetlinkError(
    'IPVSD_ERR_PERMISSION',
    `${what}: ${errnoName(errno)}: ${NO_PERMISSION_HINT}`,
    errno,
    errnoName(errno),
  );
}

/** Rethrows a failed netlink call as a message naming `what` was being done (EPERM: the hint). */
export function rethrowExplained(err: unknown, what: string): never {
  if (err instanceof NetlinkError && (err.errno === EPERM || err.errno === EACCES))
    throw permissionDenied(err.errno, what);
  if (err instanceof NetlinkError)
    throw new NetlinkError(err.code, `${what}: ${err.message}`, err.errno, err.errnoName, { cause: err });
  throw err;
}

/** Throws "the kernel has no IPVS" for the ENOENT of a lookup of the IPVS family; else returns. */
export function throwIfIpvsMissing(err: unknown): void {
  if (err instanceof NetlinkError && err.errno === ENOENT) throw ipvsUnavailable(err);
}

/** The error for one rejected operation, naming the service, destination and the likely fix. */
export function explainOperationError(op: IpvsOperation, errno: number): NetlinkError {
  const name = errnoName(errno);
  if (errno === EPERM || errno === EACCES) return permissionDenied(errno, describeOperation(op));
  const reason = reasonFor(op, errno) ?? `the kernel refused it (${name})`;
  return new NetlinkError('IPVSD_ERR_KERNEL_REJECTED', `${describeOperation(op)}: ${reason}`, errno, name);
}

export function describeOperation(op: IpvsOperation): string {
  switch (op.kind) {
    case 'add-service':
    case 'edit-service':
      return `${op.kind} ${serviceKeyString(op.service.key)}`;
    case 'delete-service':
      return `delete-service ${serviceKeyString(op.key)}`;
    case 'add-destination':
    case 'edit-destination':
    case 'delete-destination':
      return `${op.kind} ${destinationKeyString(op.destination)} in ${serviceKeyString(op.key)}`;
    case 'set-timeouts':
      return 'set-timeouts';
  }
}

function reasonFor(op: IpvsOperation, errno: number): string | null {
  switch (op.kind) {
    case 'add-service':
    case 'edit-service':
      if (errno === ENOENT)
        return `scheduler "${op.service.scheduler}" is not available (ENOENT): load its module with \`modprobe ip_vs_${op.service.scheduler}\``;
      if (errno === EEXIST) return 'the service already exists (EEXIST)';
      if (errno === ESRCH) return 'the service does not exist in the kernel (ESRCH)';
      if (errno === EINVAL)
        return 'the kernel rejected the service parameters (EINVAL): check the persistence netmask and scheduler flags';
      return null;
    case 'delete-service':
      return errno === ESRCH ? 'the service does not exist in the kernel (ESRCH)' : null;
    case 'add-destination':
    case 'edit-destination':
      if (errno === ESRCH) return 'the service does not exist in the kernel (ESRCH)';
      if (errno === EEXIST) return 'the destination already exists (EEXIST)';
      if (errno === ENOENT) return 'the destination does not exist in the service (ENOENT)';
      if (errno === EINVAL && op.destination.forwarding === 'nat')
        return `the kernel refused NAT destination ${op.destination.address} (EINVAL): the director has no route to ${op.destination.address}; add a route to the real servers' network (check with \`ip route get ${op.destination.address}\`)`;
      if (errno === EINVAL)
        return 'the kernel rejected the destination parameters (EINVAL): check weight and thresholds';
      return null;
    case 'delete-destination':
      if (errno === ESRCH) return 'the service does not exist in the kernel (ESRCH)';
      if (errno === ENOENT) return 'the destination does not exist in the service (ENOENT)';
      return null;
    case 'set-timeouts':
      return null;
  }
}
