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

/**
 * One service per member: a group's members all get the same destinations. IPVS translates ports
 * only in NAT mode, so a dr/tun destination takes each member's own port (0 for a fwmark), as
 * keepalived's ipvswrapper.c ipvs_group_cmd sets it.
 */
export function memberServices(vs: VirtualServerConfig, service: DesiredService): DesiredService[] {
  if (vs.group === null) return [service];
  const kept = service.destinations.every((d) => d.forwarding === 'nat');
  return vs.members.map((key) => ({
    ...service,
    key,
    destinations: kept
      ? service.destinations
      : service.destinations.map((d) => (d.forwarding === 'nat' ? d : { ...d, port: key.port ?? 0 })),
  }));
}

/** Every virtual server with all its real servers at their configured weight, in config order. */
export function desiredServices(config: Config): DesiredService[] {
  return config.virtualServers.flatMap((vs) => memberServices(vs, desiredService(vs)));
}
