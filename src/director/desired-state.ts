/**
 * The director's decision, as a pure function: from the config, the health of every real server,
 * the operator's drains and the previous quorum state, the IPVS table the kernel should hold.
 * keepalived's rules: a failed real server is removed (weight 0 with its inhibit_on_failure); drained
 * ones stay with weight 0; a live one has its configured weight plus its file checks' deltas,
 * clamped to 0..INT32_MAX (src/model/track-file.ts effectiveWeight), so a file's number changes
 * the weight in place; quorum is the sum of live weights, gained at quorum + hysteresis and lost
 * below quorum - hysteresis; while it is lost the sorry server replaces the real servers. Every
 * virtual service stays in the table in every state (DESIGN §6: an empty service keeps the IPVS
 * hooks, and so NAT for synced connections, alive).
 */
import { desiredDestination, desiredService, memberServices } from '../config/desired.js';
import type { RealServerConfig, VirtualServerConfig } from '../config/types.js';
import { type DesiredService, type Destination, destinationKeyString } from '../model/ipvs.js';
import { effectiveWeight } from '../model/track-file.js';

export type Health = 'up' | 'down';

export interface DirectorInputs {
  readonly virtualServers: readonly VirtualServerConfig[];
  readonly health: (vs: VirtualServerConfig, rs: RealServerConfig) => Health;
  /**
   * The sum of the weight deltas of the real server's checks (file checks' value × weight; 0 for
   * every other kind); absent: 0 for all.
   */
  readonly weightDelta?: (vs: VirtualServerConfig, rs: RealServerConfig) => number;
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
  drainKeyOf(vsName, destinationKeyString(rs));

/** The same key from a real server already written as `198.51.100.11:8080` (a saved drain). */
export const drainKeyOf = (vsName: string, realServer: string): string => `${vsName} ${realServer}`;

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

/**
 * What decide() made last for a virtual server (config object), and from which per-real-server
 * outcome: when the outcome repeats, the same DesiredService object comes back. That is what lets
 * the reconciler's event runs diff only the services whose object changed (a health change on
 * one real server touches one service, not the whole table). A cache of values only: the result
 * is equal either way, and a reload brings new config objects, so nothing stale is ever reused.
 */
interface Remembered {
  /** Per real server: 0 left out, 1 live with its weight, 2 live with weight 0. */
  readonly outcome: Uint8Array;
  /** Per real server: its effective weight while live (0..INT32_MAX fits a Uint32Array). */
  readonly weights: Uint32Array;
  readonly sorry: boolean;
  /** One per member of the virtual server (its group's services, or its one service). */
  readonly services: readonly DesiredService[];
}
const remembered = new WeakMap<VirtualServerConfig, Remembered>();

const LEFT_OUT = 0;
const LIVE = 1;
const LIVE_ZERO = 2;

export function decide(inputs: DirectorInputs): DirectorDecision {
  const weightDelta = inputs.weightDelta;
  const services: DesiredService[] = [];
  const decisions: VirtualServerDecision[] = [];
  const quorumMet = new Map<string, boolean>();
  for (const vs of inputs.virtualServers) {
    const outcome = new Uint8Array(vs.realServers.length);
    const weights = new Uint32Array(vs.realServers.length);
    let liveWeight = 0;
    vs.realServers.forEach((rs, i) => {
      const up = inputs.health(vs, rs) === 'up';
      const drained = inputs.drained.size > 0 && inputs.drained.has(drainKey(vs.name, rs));
      if (up) {
        const weight =
          weightDelta === undefined ? rs.weight : effectiveWeight(rs.weight, weightDelta(vs, rs));
        weights[i] = weight;
        outcome[i] = drained ? LIVE_ZERO : LIVE;
        // keepalived's quorum counts the effective weights (ipwrapper.c weigh_live_realservers).
        if (!drained) liveWeight += weight;
      } else outcome[i] = rs.inhibitOnFailure ? LIVE_ZERO : LEFT_OUT;
    });
    const met = nextQuorum(inputs.quorumMet.get(vs.name), liveWeight, vs.quorum, vs.hysteresis);
    quorumMet.set(vs.name, met);
    const sorry = !met && vs.sorryServer !== null;
    const before = remembered.get(vs);
    let members: readonly DesiredService[];
    if (
      before !== undefined &&
      before.sorry === sorry &&
      sameOutcome(before.outcome, outcome) &&
      sameOutcome(before.weights, weights)
    ) {
      members = before.services;
    } else {
      members = memberServices(vs, {
        ...desiredService(vs),
        destinations: destinationsOf(vs, outcome, weights, sorry),
      });
      remembered.set(vs, { outcome, weights, sorry, services: members });
    }
    for (const service of members) services.push(service);
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

function sameOutcome(a: Uint8Array | Uint32Array, b: Uint8Array | Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function destinationsOf(
  vs: VirtualServerConfig,
  outcome: Uint8Array,
  weights: Uint32Array,
  sorry: boolean,
): Destination[] {
  if (sorry && vs.sorryServer) {
    return [
      {
        address: vs.sorryServer.address,
        port: vs.sorryServer.port,
        forwarding: vs.forwarding,
        weight: 1,
        upperThreshold: 0,
        lowerThreshold: 0,
      },
    ];
  }
  const live: Destination[] = [];
  vs.realServers.forEach((rs, i) => {
    if (outcome[i] === LEFT_OUT) return;
    const dest = desiredDestination(rs);
    const weight = outcome[i] === LIVE_ZERO ? 0 : (weights[i] as number);
    live.push(weight === dest.weight ? dest : { ...dest, weight });
  });
  return live;
}
