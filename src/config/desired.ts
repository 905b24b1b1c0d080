/**
 * The IPVS table a config asks for when every real server is up: what `ipvsctl apply` installs. The
 * daemon starts from the same mapping and then lets health, quorum and the sorry server change it.
 */
import type { DesiredService, Destination } from '../model/ipvs.js';
import { schedulerFlagBits } from './schedulers.js';
import type { Config, RealServerConfig, VirtualServerConfig } from './types.js';

export function desiredDestination(rs: RealServerConfig): Destination {
  return {
    address: rs.address,
    port: rs.port,
    forwarding: rs.forwarding,
    weight: rs.weight,
    upperThreshold: rs.upperThreshold,
    lowerThreshold: rs.lowerThreshold,
  };
}

export function desiredService(vs: VirtualServerConfig): DesiredService {
  return {
    key: vs.key,
    scheduler: vs.scheduler,
    persistence: vs.persistence,
    flags: schedulerFlagBits(vs.schedulerFlags),
    destinations: vs.realServers.map(desiredDestination),
  };
}

/** Every virtual server with all its real servers at their configured weight, in config order. */
export function desiredServices(config: Config): DesiredService[] {
  return config.virtualServers.map(desiredService);
}
