/**
 * Reading the kernel's IPVS table on a worker thread (sys/genl-dump.ts), without a backend and
 * without node-netlink: `ipvsctl apply` starts it before parsing the config. The daemon's backend
 * (./kernel-backend.ts) reads the table through here too.
 */
import type { DestinationState, ServiceState } from '../model/ipvs.js';
import { GenlDumpRefused, type GenlDumpReply, genlDumpEach } from '../sys/genl-dump.js';
import { decodeDestinationAt, decodeService } from './codec.js';
import {
  IPVS_CMD_ATTR_SERVICE,
  IPVS_CMD_GET_DEST,
  IPVS_CMD_GET_SERVICE,
  IPVS_GENL_NAME,
  IPVS_GENL_VERSION,
} from './constants.js';
import { rethrowExplained, rethrowIpvsCallError } from './explain.js';

/**
 * The kernel's IPVS table: every service, then each one's destinations, read on a worker thread
 * over a socket of its own (sys/genl-dump.ts). It needs no backend, so `ipvsctl apply` starts it
 * before parsing the config and the two run side by side. Errors as the backend's: no IPVS, no
 * permission, or what the kernel said. Malformed replies are skipped and counted to `onDropped`.
 */
export async function readKernelTable(
  timeoutMs = 15_000,
  onDropped: (count: number) => void = () => {},
): Promise<ServiceState[]> {
  try {
    const dump = await genlDumpEach({
      familyName: IPVS_GENL_NAME,
      version: IPVS_GENL_VERSION,
      listCmd: IPVS_CMD_GET_SERVICE,
      eachCmd: IPVS_CMD_GET_DEST,
      keyAttr: IPVS_CMD_ATTR_SERVICE,
      timeoutMs,
    });
    if (dump.dropped > 0) onDropped(dump.dropped);
    return decodeTable(dump.list, dump.each);
  } catch (err) {
    // A dump the kernel refused (ENOENT included) is not a missing family.
    if (err instanceof GenlDumpRefused)
      rethrowExplained(err, err.level === 'list' ? 'listing IPVS services' : 'listing IPVS destinations');
    rethrowIpvsCallError(err, 'reading the IPVS table');
  }
}

/** Services with their destinations from the replies of a table dump (malformed entries skipped). */
function decodeTable(
  services: readonly GenlDumpReply[],
  destinations: readonly (readonly GenlDumpReply[])[],
): ServiceState[] {
  const table: ServiceState[] = [];
  services.forEach((reply, i) => {
    const service = decodeService(reply.attrs) as
      | (ServiceState & { destinations: DestinationState[] })
      | null;
    if (service === null) return;
    for (const d of destinations[i] ?? []) {
      const destination = decodeDestinationAt(d.buf, d.start, d.end, service.key.family);
      if (destination !== null) service.destinations.push(destination);
    }
    table.push(service);
  });
  return table;
}
