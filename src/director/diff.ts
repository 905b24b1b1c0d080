/**
 * The reconciler's pure core: given the whole desired IPVS table and what the kernel really holds, the
 * fewest ordered operations that make the kernel match (DESIGN §2, level-triggered). Every change that
 * the kernel can make in place is made in place — SET_SERVICE for scheduler, persistence or flags,
 * SET_DEST for forwarding, weight or thresholds — because deleting and re-adding a service or a real
 * server drops its connections. Both sides are normalised first (canonical addresses, masked flags,
 * canonical netmasks, the kernel's `local` forwarding read as `nat`) so that spelling differences never
 * become kernel churn; applying the result and diffing again yields nothing.
 */
import { canonicalAddress } from '../model/address.js';
import { canonicalDestination, canonicalService, canonicalServiceKey } from '../model/canonical.js';
import {
  type DesiredService,
  type Destination,
  destinationKeyString,
  type Forwarding,
  hostPort,
  type IpvsOperation,
  type IpvsTimeouts,
  type ServiceKey,
  type ServiceState,
  serviceKeyString,
  type VirtualService,
} from '../model/ipvs.js';

export interface DiffOptions {
  /** What to do with kernel services the desired table does not name (config `director.ipvs.unmanaged`). */
  readonly unmanaged: 'remove' | 'keep';
}

/**
 * The operations, in order, that turn `actual` into `desired`. For each desired service in desired
 * order: add-service or edit-service (at most one), then its destination deletes, edits and adds (deletes
 * first so that what they release is free before anything new arrives). Kernel services the desired
 * table does not name come last: deleted when `unmanaged` is `remove`, untouched when `keep`. Destinations
 * of a managed service that the desired table does not name are always deleted. Desired keys are
 * expected to be unique (config validation ensures it); a later duplicate service or destination is
 * ignored.
 */
export function diff(
  desired: readonly DesiredService[],
  actual: readonly ServiceState[],
  options: DiffOptions,
): IpvsOperation[] {
  const operations: IpvsOperation[] = [];
  const actualByKey = new Map<string, ServiceState>();
  for (const service of actual) {
    const id = serviceId(service.key);
    if (!actualByKey.has(id)) actualByKey.set(id, service);
  }

  const managed = new Set<string>();
  for (const wanted of desired) {
    const service = canonicalService(wanted);
    const id = serviceKeyString(service.key);
    if (managed.has(id)) continue;
    managed.add(id);
    const destinations = uniqueDestinations(wanted.destinations);
    const current = actualByKey.get(id);

    if (current === undefined) {
      operations.push({ kind: 'add-service', service });
      for (const destination of destinations) {
        operations.push({ kind: 'add-destination', key: service.key, destination });
      }
      continue;
    }

    if (!sameServiceSettings(service, canonicalService(current))) {
      operations.push({ kind: 'edit-service', service });
    }
    operations.push(...diffDestinations(service.key, destinations, current.destinations));
  }

  if (options.unmanaged === 'remove') {
    for (const [id, service] of actualByKey) {
      if (managed.has(id)) continue;
      operations.push({ kind: 'delete-service', key: canonicalServiceKey(service.key) });
    }
  }
  return operations;
}

/**
 * A set-timeouts operation when a configured timeout differs from the kernel's, else null. Unset values
 * keep the kernel's: the operation carries the kernel's current value for them, so it is complete. A
 * configured 0 counts as unset, because the kernel reads 0 as "leave unchanged" and could never converge.
 */
export function diffTimeouts(
  desired: { readonly [K in keyof IpvsTimeouts]?: number | null },
  actual: IpvsTimeouts,
): IpvsOperation | null {
  const pick = (value: number | null | undefined, current: number): number =>
    value === undefined || value === null || value === 0 ? current : value;
  const timeouts: IpvsTimeouts = {
    tcpS: pick(desired.tcpS, actual.tcpS),
    tcpFinS: pick(desired.tcpFinS, actual.tcpFinS),
    udpS: pick(desired.udpS, actual.udpS),
  };
  const same =
    timeouts.tcpS === actual.tcpS && timeouts.tcpFinS === actual.tcpFinS && timeouts.udpS === actual.udpS;
  return same ? null : { kind: 'set-timeouts', timeouts };
}

function diffDestinations(
  key: ServiceKey,
  desired: readonly Destination[],
  actual: readonly Destination[],
): IpvsOperation[] {
  // Kernel destinations by canonical key (the first of a key wins). Canonicalising changes only the
  // address, which is the key, so the kernel's objects are compared as they are: no copy of each of
  // a big table's destinations on every reconcile.
  const actualById = new Map<string, { readonly address: string; readonly destination: Destination }>();
  for (const destination of actual) {
    const address = canonicalAddress(destination.address);
    const id = hostPort(address, destination.port);
    if (!actualById.has(id)) actualById.set(id, { address, destination });
  }
  const desiredIds = new Set<string>();
  const edits: IpvsOperation[] = [];
  const adds: IpvsOperation[] = [];
  for (const destination of desired) {
    const id = destinationKeyString(destination);
    desiredIds.add(id);
    const current = actualById.get(id);
    if (current === undefined) adds.push({ kind: 'add-destination', key, destination });
    else if (!sameDestinationSettings(destination, current.destination)) {
      edits.push({ kind: 'edit-destination', key, destination });
    }
  }
  const deletes: IpvsOperation[] = [];
  for (const [id, { address, destination }] of actualById) {
    if (!desiredIds.has(id)) {
      deletes.push({ kind: 'delete-destination', key, destination: { address, port: destination.port } });
    }
  }
  return deletes.length === 0 && edits.length === 0 ? adds : [...deletes, ...edits, ...adds];
}

/** The match key of a service: its canonical key string (family is part of it for fwmark services). */
function serviceId(key: ServiceKey): string {
  return serviceKeyString(canonicalServiceKey(key));
}

function uniqueDestinations(destinations: readonly Destination[]): Destination[] {
  const seen = new Set<string>();
  const unique: Destination[] = [];
  for (const destination of destinations) {
    const normalised = canonicalDestination(destination);
    const id = destinationKeyString(normalised);
    if (seen.has(id)) continue;
    seen.add(id);
    unique.push(normalised);
  }
  return unique;
}

function sameServiceSettings(a: VirtualService, b: VirtualService): boolean {
  if (a.scheduler !== b.scheduler || a.flags !== b.flags) return false;
  if (a.persistence === null || b.persistence === null) return a.persistence === b.persistence;
  return a.persistence.timeoutS === b.persistence.timeoutS && a.persistence.netmask === b.persistence.netmask;
}

function sameDestinationSettings(a: Destination, b: Destination): boolean {
  return (
    sameForwarding(a.forwarding, b.forwarding) &&
    a.weight === b.weight &&
    a.upperThreshold === b.upperThreshold &&
    a.lowerThreshold === b.lowerThreshold
  );
}

/** The kernel reports LOCALNODE (`local`) for a NAT destination that is one of the director's addresses. */
function sameForwarding(a: Forwarding, b: Forwarding): boolean {
  const masq = (f: Forwarding): Forwarding => (f === 'local' ? 'nat' : f);
  return masq(a) === masq(b);
}
