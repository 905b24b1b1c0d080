/**
 * Services and destinations in one spelling, so that two that mean the same thing compare equal as
 * keys and as settings: canonical addresses and netmasks, and flags without the two the model leaves
 * out (PERSISTENT follows from `persistence`, HASHED is kernel-internal and comes back in dumps).
 * The diff uses this to keep spelling differences from becoming kernel churn; the in-memory backend
 * uses it to store what the kernel would. Each function returns a fresh plain object: no counters,
 * no destinations, nothing shared with its argument.
 */
import { IP_VS_SVC_F_HASHED, IP_VS_SVC_F_PERSISTENT } from '../ipvs/constants.js';
import { canonicalAddress, canonicalNetmask } from './address.js';
import type { Destination, DestinationKey, Persistence, ServiceKey, VirtualService } from './ipvs.js';

/** Flags a VirtualService never carries (see VirtualService.flags). */
const IGNORED_FLAGS = IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_HASHED;

export function canonicalServiceKey(key: ServiceKey): ServiceKey {
  if (key.fwmark !== null) {
    return { family: key.family, protocol: null, address: null, port: null, fwmark: key.fwmark };
  }
  return {
    family: key.family,
    protocol: key.protocol,
    address: canonicalAddress(key.address),
    port: key.port,
    fwmark: null,
  };
}

/** A plain VirtualService in canonical form: what the kernel keeps of a service. */
export function canonicalService(service: VirtualService): VirtualService {
  const key = canonicalServiceKey(service.key);
  return {
    key,
    scheduler: service.scheduler,
    persistence: canonicalPersistence(key, service.persistence),
    flags: service.flags & ~IGNORED_FLAGS,
  };
}

function canonicalPersistence(key: ServiceKey, persistence: Persistence | null): Persistence | null {
  if (persistence === null) return null;
  return { timeoutS: persistence.timeoutS, netmask: canonicalNetmask(key.family, persistence.netmask) };
}

export function canonicalDestinationKey(dest: DestinationKey): DestinationKey {
  return { address: canonicalAddress(dest.address), port: dest.port };
}

/** A plain Destination in canonical form. */
export function canonicalDestination(dest: Destination): Destination {
  return {
    address: canonicalAddress(dest.address),
    port: dest.port,
    forwarding: dest.forwarding,
    weight: dest.weight,
    upperThreshold: dest.upperThreshold,
    lowerThreshold: dest.lowerThreshold,
  };
}
