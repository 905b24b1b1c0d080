/**
 * Reading the kernel's IPVS table: one dump of the services, then one dump of each service's
 * destinations (the kernel dumps destinations one service at a time, as ipvsadm reads them too).
 * The dumps go through the backend's socket (sys/genl-socket.ts); this module only walks and decodes.
 */
import type { DestinationState, ServiceState } from '../model/ipvs.js';
import type { GenlReply, GenlRequest } from '../sys/genl-socket.js';
import { decodeDestination, decodeService, getDestsRequest, getServicesRequest } from './codec.js';

/** One dump on the backend's socket, errors already explained (./explain.ts). */
export type IpvsDump = (req: GenlRequest, what: string) => Promise<GenlReply[]>;

/**
 * Every service with its destinations. Replies that do not decode (a service or destination
 * without its required attributes) are skipped and counted to `onDropped`.
 */
export async function readKernelTable(
  dump: IpvsDump,
  onDropped: (count: number) => void = () => {},
): Promise<ServiceState[]> {
  let dropped = 0;
  const table: (ServiceState & { destinations: DestinationState[] })[] = [];
  for (const reply of await dump(getServicesRequest, 'listing IPVS services')) {
    const service = decodeService(reply.attrs);
    if (service === null) dropped++;
    else table.push(service as ServiceState & { destinations: DestinationState[] });
  }
  for (const service of table) {
    const replies = await dump(getDestsRequest(service.key), 'listing IPVS destinations');
    for (const reply of replies) {
      const destination = decodeDestination(reply.attrs, service.key.family);
      if (destination === null) dropped++;
      else service.destinations.push(destination);
    }
  }
  if (dropped > 0) onDropped(dropped);
  return table;
}
