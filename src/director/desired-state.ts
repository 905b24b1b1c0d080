/**
 * The director's decision, as a pure function: from the config, the health of every real server,
 * the operator's drains and the previous quorum state, the IPVS table the kernel should hold.
 * keepalived's rules: a failed real server is removed (weight 0 with inhibit_on_failure); drained
 * ones stay with weight 0; quorum is the sum of live weights, gained at quorum + hysteresis and lost
 * below quorum - hysteresis; while it is lost the sorry server replaces the real servers. Every
 * virtual service stays in the table in every state (DESIGN §6: an empty service keeps the IPVS
 * hooks, and so NAT for synced connections, alive).
 */
import { desiredDestination, desiredService } from '../config/desired.js';
import type { RealServerConfig, VirtualServerConfig } from '../config/types.js';
import { type DesiredService, type Destination, destinationKeyString } from '../model/ipvs.js';

export type Health = 'up' | 'down';

export interface DirectorInputs {
  readonly virtualServers: readonly VirtualServerConfig[];
  readonly health: (vs: VirtualServerConfig, rs: RealServerConfig) => Health;
  /** Drain keys (`drainKey(vs, rs)`) the operator set. */
  readonly drained: ReadonlySet<string>;
  /** Quorum state per virtual server name from the last decision; absent: decide from scratch. */
  readonly quorumMet: ReadonlyMap<string, boolean>;
}

export interface VirtualServerDecision {
  readonly name: string;
  readonly liveWeight: number;
  readonly requiredWeight: number;
  readonly quorumMet: boolean;
  readonly sorryServerActive: boolean;
}

export interface DirectorDecision {
  readonly services: DesiredService[];
  readonly virtualServers: VirtualServerDecision[];
  readonly quorumMet: Map<string, boolean>;
}

export const drainKey = (vsName: string, rs: { address: string; port: number }): string =>
  `${vsName} ${destinationKeyString(rs)}`;

/** Hysteresis: once met, quorum holds down to quorum - hysteresis; once lost, it needs quorum + hysteresis. */
export function nextQuorum(
  previous: boolean | undefined,
  liveWeight: number,
  quorum: number,
  hysteresis: number,
): boolean {
  if (previous === undefined) return liveWeight >= quorum;
  return previous ? liveWeight >= quorum - hysteresis : liveWeight >= quorum + hysteresis;
}

export function decide(inputs: DirectorInputs): DirectorDecision {
  const services: DesiredService[] = [];
  const decisions: VirtualServerDecision[] = [];
  const quorumMet = new Map<string, boolean>();
  for (const vs of inputs.virtualServers) {
    const live: Destination[] = [];
    let liveWeight = 0;
    for (const rs of vs.realServers) {
      const up = inputs.health(vs, rs) === 'up';
      const drained = inputs.drained.has(drainKey(vs.name, rs));
      const dest = desiredDestination(rs);
      if (up) {
        live.push(drained ? { ...dest, weight: 0 } : dest);
        if (!drained) liveWeight += rs.weight;
      } else if (vs.inhibitOnFailure) {
        live.push({ ...dest, weight: 0 });
      }
    }
    const met = nextQuorum(inputs.quorumMet.get(vs.name), liveWeight, vs.quorum, vs.hysteresis);
    quorumMet.set(vs.name, met);
    const sorry = !met && vs.sorryServer !== null;
    const destinations: Destination[] =
      sorry && vs.sorryServer
        ? [
            {
              address: vs.sorryServer.address,
              port: vs.sorryServer.port,
              forwarding: vs.forwarding,
              weight: 1,
              upperThreshold: 0,
              lowerThreshold: 0,
            },
          ]
        : live;
    services.push({ ...desiredService(vs), destinations });
    decisions.push({
      name: vs.name,
      liveWeight,
      requiredWeight: vs.quorum,
      quorumMet: met,
      sorryServerActive: sorry,
    });
  }
  return { services, virtualServers: decisions, quorumMet };
}
