/** How `ipvsctl apply` shows the operations it plans or made, as text lines and as JSON entries. */
import { destinationKeyString, type IpvsOperation, serviceKeyString } from '../model/ipvs.js';
import { flagNames } from './format-table.js';

export function operationJson(op: IpvsOperation): Record<string, unknown> {
  switch (op.kind) {
    case 'add-service':
    case 'edit-service':
      return {
        op: op.kind,
        service: serviceKeyString(op.service.key),
        scheduler: op.service.scheduler,
        flags: flagNames(op.service.scheduler, op.service.flags),
        persistence: op.service.persistence
          ? { timeout: op.service.persistence.timeoutS, netmask: op.service.persistence.netmask }
          : null,
      };
    case 'delete-service':
      return { op: op.kind, service: serviceKeyString(op.key) };
    case 'add-destination':
    case 'edit-destination':
      return {
        op: op.kind,
        service: serviceKeyString(op.key),
        destination: destinationKeyString(op.destination),
        forwarding: op.destination.forwarding,
        weight: op.destination.weight,
        upperThreshold: op.destination.upperThreshold,
        lowerThreshold: op.destination.lowerThreshold,
      };
    case 'delete-destination':
      return {
        op: op.kind,
        service: serviceKeyString(op.key),
        destination: destinationKeyString(op.destination),
      };
    case 'set-timeouts':
      return { op: op.kind, tcp: op.timeouts.tcpS, tcpFin: op.timeouts.tcpFinS, udp: op.timeouts.udpS };
  }
}

/** `add-destination tcp/203.0.113.100:80 198.51.100.11:8080 forwarding=nat weight=3` */
export function operationText(op: IpvsOperation): string {
  const { op: kind, service, destination, ...rest } = operationJson(op);
  const details = Object.entries(rest)
    .filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return [kind, service, destination, ...details].filter((x) => x !== undefined).join(' ');
}
