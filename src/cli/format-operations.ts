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

/**
 * `add-destination tcp/203.0.113.100:80 198.51.100.11:8080 forwarding=nat weight=3 ...`: the kind,
 * the service, the destination, then operationJson's other fields as key=value (objects and
 * non-empty lists as JSON, null and empty lists left out). Written out per kind rather than derived
 * from operationJson: `apply` prints one line per operation, 11,000 for a big table, and the generic
 * form cost seconds on a slow machine. test/unit/cli/format-operations.test.ts holds the two together.
 */
export function operationText(op: IpvsOperation): string {
  switch (op.kind) {
    case 'add-service':
    case 'edit-service': {
      const { key, scheduler, flags, persistence } = op.service;
      let line = `${op.kind} ${serviceKeyString(key)} scheduler=${scheduler}`;
      const names = flagNames(scheduler, flags);
      if (names.length > 0) line += ` flags=${JSON.stringify(names)}`;
      if (persistence !== null)
        line += ` persistence=${JSON.stringify({ timeout: persistence.timeoutS, netmask: persistence.netmask })}`;
      return line;
    }
    case 'delete-service':
      return `${op.kind} ${serviceKeyString(op.key)}`;
    case 'add-destination':
    case 'edit-destination': {
      const d = op.destination;
      return (
        `${op.kind} ${serviceKeyString(op.key)} ${destinationKeyString(d)} forwarding=${d.forwarding}` +
        ` weight=${d.weight} upperThreshold=${d.upperThreshold} lowerThreshold=${d.lowerThreshold}`
      );
    }
    case 'delete-destination':
      return `${op.kind} ${serviceKeyString(op.key)} ${destinationKeyString(op.destination)}`;
    case 'set-timeouts':
      return `${op.kind} tcp=${op.timeouts.tcpS} tcpFin=${op.timeouts.tcpFinS} udp=${op.timeouts.udpS}`;
  }
}
