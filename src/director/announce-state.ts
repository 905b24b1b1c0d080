/**
 * Which VIPs this director announces, and why each one is or is not: a pure function of what the
 * daemon knows, with a little memory (when each VIP last changed) so that logs and status can say
 * what changed. A VIP is announced only while the daemon runs, no fault is known, the kernel IPVS
 * table is reconciled, the operator has not withdrawn it (or the node), and every virtual service
 * on its address has quorum. The reasons are checked in that order, so the reason shown is the
 * one that matters most: on a stop, "stopping" wins over everything else.
 *
 * The route that carries an announcement is kernel state (./announcer.ts writes it); this module
 * decides only, so the whole decision is a table test with a fake clock.
 */

export interface AnnouncedService {
  /** The virtual server's name (`tcp/203.0.113.100:80` unless named). */
  readonly name: string;
  /** The VIP (canonical text). */
  readonly address: string;
  readonly quorum: { readonly met: boolean; readonly liveWeight: number; readonly required: number };
}

export interface AnnounceInputs {
  /** False once the daemon is stopping. */
  readonly running: boolean;
  /** Why the director cannot serve at all (the checks process is down, …); null when none. */
  readonly fault: string | null;
  /** Why the kernel IPVS table is not known to match the config; null when it does. */
  readonly notReconciled: string | null;
  /** VIPs a reload brought that no reconcile has put in the kernel yet (optional: none). */
  readonly pending?: ReadonlySet<string>;
  /** The services with `announce: true`; several may share an address. */
  readonly services: readonly AnnouncedService[];
  /** `ipvsctl withdraw` without an address: the node as a whole. */
  readonly withdrawnAll: boolean;
  /** `ipvsctl withdraw ADDRESS`. */
  readonly withdrawn: ReadonlySet<string>;
}

export interface Announcement {
  readonly address: string;
  readonly announced: boolean;
  readonly reason: string;
  /** ms since the epoch: when `announced` last changed (or the VIP first appeared). */
  readonly since: number;
}

export interface AnnounceUpdate {
  /** Every announced-by-config VIP, in config order. */
  readonly announcements: readonly Announcement[];
  /** Those whose `announced` or `reason` changed in this update (new VIPs included). */
  readonly changed: readonly Announcement[];
  /** VIPs that left the config since the last update. */
  readonly removed: readonly string[];
}

export interface AnnounceState {
  update(inputs: AnnounceInputs, now: number): AnnounceUpdate;
  current(): readonly Announcement[];
}

export const REASON_ANNOUNCED = 'announced';
export const REASON_STOPPING = 'stopping';
export const REASON_WITHDRAWN_NODE = 'withdrawn by operator (node)';
export const REASON_WITHDRAWN = 'withdrawn by operator';

/** The reason for one VIP (pure): `announced`, or the first thing that keeps it withdrawn. */
export function announceReason(
  address: string,
  services: readonly AnnouncedService[],
  inputs: AnnounceInputs,
): string {
  if (!inputs.running) return REASON_STOPPING;
  if (inputs.fault !== null) return `fault: ${inputs.fault}`;
  if (inputs.withdrawnAll) return REASON_WITHDRAWN_NODE;
  if (inputs.withdrawn.has(address)) return REASON_WITHDRAWN;
  if (inputs.notReconciled !== null) return `not reconciled: ${inputs.notReconciled}`;
  if (inputs.pending?.has(address) === true) return 'not reconciled: new in the config';
  const lost = services.filter((s) => !s.quorum.met);
  if (lost.length > 0)
    return `quorum lost: ${lost.map((s) => `${s.name} has ${s.quorum.liveWeight} of ${s.quorum.required}`).join(', ')}`;
  return REASON_ANNOUNCED;
}

export function createAnnounceState(): AnnounceState {
  let current: Announcement[] = [];

  return {
    update(inputs, now) {
      const byAddress = new Map<string, AnnouncedService[]>();
      for (const service of inputs.services) {
        const list = byAddress.get(service.address);
        if (list) list.push(service);
        else byAddress.set(service.address, [service]);
      }
      const before = new Map(current.map((a) => [a.address, a]));
      const next: Announcement[] = [];
      const changed: Announcement[] = [];
      for (const [address, services] of byAddress) {
        const reason = announceReason(address, services, inputs);
        const announced = reason === REASON_ANNOUNCED;
        const previous = before.get(address);
        const since = previous !== undefined && previous.announced === announced ? previous.since : now;
        const entry: Announcement = { address, announced, reason, since };
        next.push(entry);
        if (previous === undefined || previous.announced !== announced || previous.reason !== reason)
          changed.push(entry);
      }
      const removed = current.filter((a) => !byAddress.has(a.address)).map((a) => a.address);
      current = next;
      return { announcements: next, changed, removed };
    },
    current: () => current,
  };
}
