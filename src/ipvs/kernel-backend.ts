/**
 * IpvsBackend on the kernel's IPVS generic netlink family. Changes go out in batches (see
 * sys/genl-socket.ts); dumps read all services, then every service's destinations, pipelined.
 */
import { constants } from 'node:os';
import { IpvsdError, NetlinkError } from '../errors.js';
import type { IpvsOperation, IpvsTimeouts, ServiceKey, ServiceState } from '../model/ipvs.js';
import {
  createGenlSocket,
  type GenlRequest,
  type GenlSocket,
  type GenlSocketOptions,
} from '../sys/genl-socket.js';
import type { IpvsBackend, IpvsInfo, OperationResult, SyncDaemon, SyncDaemonState } from './backend.js';
import {
  decodeDaemon,
  decodeDestination,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  delDaemonRequest,
  encodeOperation,
  flushRequest,
  getConfigRequest,
  getDaemonsRequest,
  getDestsRequest,
  getInfoRequest,
  getServicesRequest,
  newDaemonRequest,
  zeroRequest,
} from './codec.js';
import { IPVS_GENL_NAME } from './constants.js';
import { explainOperationError, ipvsUnavailable, permissionDenied } from './explain.js';

const { ENOENT, EPERM, EACCES } = constants.errno;

export interface KernelBackendOptions extends GenlSocketOptions {}

/** Opens the netlink socket and resolves the IPVS family; fails with an actionable error. */
export async function createKernelBackend(
  options: KernelBackendOptions = {},
): Promise<IpvsBackend & { dropped(): number }> {
  const sock = createGenlSocket(options);
  let family: { id: number; version: number };
  try {
    family = await sock.resolveFamily(IPVS_GENL_NAME);
  } catch (err) {
    sock.close();
    if (err instanceof NetlinkError && err.errno === ENOENT) throw ipvsUnavailable(err);
    throw err;
  }
  return kernelBackend(sock, family.id, family.version);
}

function rethrow(err: unknown, what: string): never {
  if (err instanceof NetlinkError && (err.errno === EPERM || err.errno === EACCES))
    throw permissionDenied(err.errno, what);
  if (err instanceof NetlinkError)
    throw new NetlinkError(err.code, `${what}: ${err.message}`, err.errno, err.errnoName, { cause: err });
  throw err;
}

function kernelBackend(
  sock: GenlSocket,
  familyId: number,
  version: number,
): IpvsBackend & { dropped(): number } {
  const request = (req: GenlRequest, what: string) =>
    sock.request(familyId, version, req).catch((e) => rethrow(e, what));
  const dump = (req: GenlRequest, what: string) =>
    sock.dump(familyId, version, req).catch((e) => rethrow(e, what));

  return {
    async info(): Promise<IpvsInfo> {
      const [reply] = await request(getInfoRequest, 'reading IPVS info');
      const info = reply ? decodeInfo(reply.attrs) : null;
      if (!info)
        throw new IpvsdError('IPVSD_ERR_NETLINK', 'reading IPVS info: malformed reply from the kernel');
      return info;
    },

    async dump(): Promise<ServiceState[]> {
      const replies = await dump(getServicesRequest, 'listing IPVS services');
      const services = replies.map((r) => decodeService(r.attrs)).filter((s) => s !== null);
      // One dump at a time: the kernel runs a single dump per netlink socket (EBUSY otherwise).
      const result: ServiceState[] = [];
      for (const svc of services) {
        const dests = await dump(getDestsRequest(svc.key), 'listing IPVS destinations');
        result.push({
          ...svc,
          destinations: dests
            .map((r) => decodeDestination(r.attrs, svc.key.family))
            .filter((d) => d !== null),
        });
      }
      return result;
    },

    async apply(operations: readonly IpvsOperation[]): Promise<OperationResult[]> {
      if (operations.length === 0) return [];
      const errnos = await sock.batch(familyId, version, operations.map(encodeOperation));
      return operations.map((operation, i) => {
        const errno = errnos[i] ?? 0;
        return { operation, error: errno === 0 ? null : explainOperationError(operation, errno) };
      });
    },

    async timeouts(): Promise<IpvsTimeouts> {
      const [reply] = await request(getConfigRequest, 'reading IPVS timeouts');
      if (!reply)
        throw new IpvsdError('IPVSD_ERR_NETLINK', 'reading IPVS timeouts: no reply from the kernel');
      return decodeTimeouts(reply.attrs);
    },

    async daemons(): Promise<SyncDaemon[]> {
      const replies = await dump(getDaemonsRequest, 'listing IPVS sync daemons');
      return replies.map((r) => decodeDaemon(r.attrs)).filter((d) => d !== null);
    },

    async startDaemon(d: SyncDaemon): Promise<void> {
      await request(newDaemonRequest(d), `starting the IPVS ${d.state} sync daemon on ${d.interface}`);
    },

    async stopDaemon(state: SyncDaemonState): Promise<void> {
      await request(delDaemonRequest(state), `stopping the IPVS ${state} sync daemon`);
    },

    async flush(): Promise<void> {
      await request(flushRequest, 'flushing IPVS');
    },

    async zero(key?: ServiceKey): Promise<void> {
      await request(zeroRequest(key), 'zeroing IPVS counters');
    },

    dropped: () => sock.dropped(),
    close: () => sock.close(),
  };
}
