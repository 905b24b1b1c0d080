/**
 * The IPVS backend of the one-shot commands (`ipvsctl apply`, `ipvsctl list`): the table is read
 * and the operations are sent on worker threads (./table-read.ts, sys/genl-batch.ts), so the event
 * loop parses the config and encodes the next chunk meanwhile. Everything else goes through the
 * daemon's backend (./kernel-backend.ts), opened only when asked for: a no-op apply never loads
 * node-netlink at all. Opening this backend opens nothing; errors come from the calls.
 */
import { IpvsdError } from '../errors.js';
import type { IpvsOperation } from '../model/ipvs.js';
import { type GenlBatchSender, openGenlBatchSender } from '../sys/genl-batch.js';
import type { IpvsBackend, OperationResult } from './backend.js';
import { encodeOperation } from './codec.js';
import { IPVS_GENL_NAME } from './constants.js';
import { explainOperationError, rethrowIpvsCallError } from './explain.js';
import { readKernelTable } from './table-read.js';

export function createCommandBackend(
  openKernelBackend: () => Promise<IpvsBackend> = async () =>
    (await import('./kernel-backend.js')).createKernelBackend(),
): IpvsBackend {
  let kernel: Promise<IpvsBackend> | undefined;
  const other = (): Promise<IpvsBackend> => {
    kernel ??= openKernelBackend();
    return kernel;
  };
  let sender: GenlBatchSender | undefined;
  return {
    dump: () => readKernelTable(),
    async apply(operations: readonly IpvsOperation[]): Promise<OperationResult[]> {
      if (operations.length === 0) return [];
      sender ??= openSender();
      const errnos = await sender.send(operations, encodeOperation);
      return operations.map((operation, i) => {
        const errno = errnos[i] ?? 0;
        return { operation, error: errno === 0 ? null : explainOperationError(operation, errno) };
      });
    },
    info: async () => (await other()).info(),
    timeouts: async () => (await other()).timeouts(),
    daemons: async () => (await other()).daemons(),
    startDaemon: async (daemon) => (await other()).startDaemon(daemon),
    stopDaemon: async (state) => (await other()).stopDaemon(state),
    switchDaemons(commands) {
      const done = other().then(
        (b) => b.switchDaemons(commands).done,
        (error: unknown) =>
          commands.map(() =>
            error instanceof IpvsdError ? error : new IpvsdError('IPVSD_ERR_NETLINK', String(error)),
          ),
      );
      return { sent: false, done };
    },
    flush: async () => (await other()).flush(),
    zero: async (key) => (await other()).zero(key),
    close() {
      sender?.close();
      kernel?.then(
        (b) => b.close(),
        () => {},
      );
    },
  };
}

/** The batch socket; its errors as the kernel backend's (no IPVS, no permission). */
function openSender(): GenlBatchSender {
  try {
    return openGenlBatchSender(IPVS_GENL_NAME);
  } catch (err) {
    rethrowIpvsCallError(err, 'opening the IPVS netlink socket');
  }
}
