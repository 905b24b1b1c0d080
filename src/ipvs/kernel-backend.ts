/**
 * IpvsBackend on the kernel's IPVS generic netlink family, for the daemon and `ipvsctl` alike: one
 * socket (sys/genl-socket.ts) carries the changes in batches, the table dumps (./table-read.ts) and
 * the single requests.
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
import { errnoName } from '../sys/netlink-errors.js';
import type {
  IpvsBackend,
  IpvsInfo,
  OperationResult,
  SyncDaemon,
  SyncDaemonCommand,
  SyncDaemonState,
  SyncDaemonSwitch,
} from './backend.js';
import {
  decodeDaemon,
  decodeInfo,
  decodeTimeouts,
  delDaemonRequest,
  encodeOperation,
  flushRequest,
  getConfigRequest,
  getDaemonsRequest,
  getInfoRequest,
  newDaemonRequest,
  zeroRequest,
} from './codec.js';
import { IPVS_GENL_NAME } from './constants.js';
import {
  explainOperationError,
  permissionDenied,
  rethrowExplained as rethrow,
  throwIfIpvsMissing,
} from './explain.js';
import { readKernelTable } from './table-read.js';

const { EPERM, EACCES } = constants.errno;

export type KernelBackendOptions = GenlSocketOptions;

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
    throwIfIpvsMissing(err);
    throw err;
  }
  return kernelBackend(sock, family.id, family.version);
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
  // Table replies that did not decode, on top of what the socket itself dropped.
  let tableDropped = 0;
  return {
    async info(): Promise<IpvsInfo> {
      const [reply] = await request(getInfoRequest, 'reading IPVS info');
      const info = reply ? decodeInfo(reply.attrs) : null;
      if (!info)
        throw new IpvsdError('IPVSD_ERR_NETLINK', 'reading IPVS info: malformed reply from the kernel');
      return info;
    },

    dump: (): Promise<ServiceState[]> =>
      readKernelTable(dump, (n) => {
        tableDropped += n;
      }),

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

    switchDaemons(commands: readonly SyncDaemonCommand[]): SyncDaemonSwitch {
      const what = (c: SyncDaemonCommand) =>
        c.op === 'start'
          ? `starting the IPVS ${c.daemon.state} sync daemon on ${c.daemon.interface}`
          : `stopping the IPVS ${c.state} sync daemon`;
      const { sent, results } = sock.submit(
        familyId,
        version,
        commands.map((c) => (c.op === 'start' ? newDaemonRequest(c.daemon) : delDaemonRequest(c.state))),
      );
      const done = results.then((errnos) =>
        commands.map((c, i) => {
          const errno = errnos[i] ?? 0;
          if (errno === 0) return null;
          if (errno === EPERM || errno === EACCES) return permissionDenied(errno, what(c));
          const name = errnoName(errno);
          return new NetlinkError('IPVSD_ERR_KERNEL_REJECTED', `${what(c)}: ${name}`, errno, name);
        }),
      );
      return { sent, done };
    },

    async flush(): Promise<void> {
      await request(flushRequest, 'flushing IPVS');
    },

    async zero(key?: ServiceKey): Promise<void> {
      await request(zeroRequest(key), 'zeroing IPVS counters');
    },

    dropped: () => sock.dropped() + tableDropped,
    close: () => sock.close(),
  };
}
