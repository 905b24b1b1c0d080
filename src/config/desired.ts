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

/** One service per member (a group's members all get the same destinations). */
export function memberServices(vs: VirtualServerConfig, service: DesiredService): DesiredService[] {
  return vs.members.length === 1 ? [service] : vs.members.map((key) => ({ ...service, key }));
}

/** Every virtual server with all its real servers at their configured weight, in config order. */
export function desiredServices(config: Config): DesiredService[] {
  return config.virtualServers.flatMap((vs) => memberServices(vs, desiredService(vs)));
}
