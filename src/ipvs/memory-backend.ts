/**
 * An in-memory IpvsBackend that follows the kernel's rules (net/netfilter/ipvs/ip_vs_ctl.c) closely
 * enough that the reconciler, the director and the CLI can be tested without IPVS: the same errnos for
 * the same mistakes, one result per operation with later operations still applied after a failure,
 * canonical addresses and fresh copies in dumps, and — optionally — the LOCALNODE rewrite the kernel
 * reports for a NAT destination that is one of the director's own addresses. It is a test double, not
 * a simulator: it neither routes nor counts packets; counters change only through the test helpers.
 */
import { constants } from 'node:os';
import { IpvsdError, NetlinkError } from '../errors.js';
import { canonicalAddress } from '../model/address.js';
import {
  canonicalDestination,
  canonicalDestinationKey,
  canonicalService,
  canonicalServiceKey,
} from '../model/canonical.js';
import {
  type Destination,
  type DestinationKey,
  type DestinationState,
  destinationKeyString,
  type IpvsOperation,
  type IpvsStats,
  type IpvsTimeouts,
  SCHEDULERS,
  type ServiceKey,
  type ServiceState,
  serviceKeyString,
  type VirtualService,
  ZERO_STATS,
} from '../model/ipvs.js';
import { errnoName } from '../sys/netlink-errors.js';
import type { IpvsBackend, IpvsInfo, OperationResult, SyncDaemon, SyncDaemonState } from './backend.js';
import { explainOperationError } from './explain.js';

export const DEFAULT_TIMEOUTS: IpvsTimeouts = { tcpS: 900, tcpFinS: 120, udpS: 300 };

export interface MemoryBackendOptions {
  /** Scheduler modules "loaded"; any other name is refused with ENOENT. Default SCHEDULERS. */
  readonly schedulers?: readonly string[];
  /**
   * The director's own addresses: a `nat` destination at one of them is stored (and dumped) as `local`,
   * as the kernel reports IP_VS_CONN_F_LOCALNODE for it.
   */
  readonly localAddresses?: readonly string[];
  readonly timeouts?: IpvsTimeouts;
  readonly info?: IpvsInfo;
}

export interface DestinationCounters {
  readonly activeConns?: number;
  readonly inactiveConns?: number;
  readonly persistConns?: number;
  readonly stats?: Partial<IpvsStats>;
}

export interface MemoryBackend extends IpvsBackend {
  /** How many operations the backend accepted (failed ones are not counted). */
  appliedCount(): number;
  /** Every operation passed to apply() with its outcome, in order. */
  history(): readonly OperationResult[];
  /** Test helper: set a service's counters. Throws ESRCH for a missing service. */
  setServiceStats(key: ServiceKey, stats: Partial<IpvsStats>): void;
  /** Test helper: set a destination's counters. Throws ESRCH / ENOENT for a missing service / destination. */
  setDestinationCounters(key: ServiceKey, destination: DestinationKey, counters: DestinationCounters): void;
  isClosed(): boolean;
}

const { ENOENT, ESRCH, EEXIST, EINVAL, ERANGE } = constants.errno;

interface MutableDestination {
  destination: Destination;
  activeConns: number;
  inactiveConns: number;
  persistConns: number;
  stats: IpvsStats;
}

interface MutableService {
  service: VirtualService;
  stats: IpvsStats;
  /** Insertion order stands in for the kernel's order. */
  destinations: Map<string, MutableDestination>;
}

/**
 * Builds a backend holding `initial` (addresses canonicalised, counters kept as given). Sync daemons
 * follow the kernel's start/stop rules: starting a state whose daemon already runs is EEXIST, stopping
 * a state with no daemon is ESRCH. After close() every call rejects with IPVSD_ERR_NETLINK.
 */
export function createMemoryBackend(
  initial: readonly ServiceState[] = [],
  options: MemoryBackendOptions = {},
): MemoryBackend {
  const schedulers = new Set<string>(options.schedulers ?? SCHEDULERS);
  const localAddresses = new Set((options.localAddresses ?? []).map(canonicalAddress));
  const info: IpvsInfo = options.info ?? { version: '1.2.1', connTableSize: 4096 };
  let timeouts: IpvsTimeouts = { ...(options.timeouts ?? DEFAULT_TIMEOUTS) };
  const services = new Map<string, MutableService>();
  const daemons = new Map<SyncDaemonState, SyncDaemon>();
  const results: OperationResult[] = [];
  let applied = 0;
  let closed = false;

  for (const state of initial) {
    const service = canonicalService(state);
    const destinations = new Map<string, MutableDestination>();
    for (const dest of state.destinations) {
      const destination = canonicalDestination(dest);
      destinations.set(destinationKeyString(destination), {
        destination,
        activeConns: dest.activeConns,
        inactiveConns: dest.inactiveConns,
        persistConns: dest.persistConns,
        stats: { ...dest.stats },
      });
    }
    services.set(serviceKeyString(service.key), { service, stats: { ...state.stats }, destinations });
  }

  function reject(operation: string, errno: number, reason: string): NetlinkError {
    const name = errnoName(errno);
    return new NetlinkError('IPVSD_ERR_KERNEL_REJECTED', `${operation}: ${reason} (${name})`, errno, name);
  }

  function findService(what: string, key: ServiceKey): MutableService {
    const entry = services.get(serviceKeyString(canonicalServiceKey(key)));
    if (entry === undefined) throw reject(what, ESRCH, `no service ${serviceKeyString(key)}`);
    return entry;
  }

  function findDestination(what: string, entry: MutableService, dest: DestinationKey): MutableDestination {
    const found = entry.destinations.get(destinationKeyString(canonicalDestinationKey(dest)));
    if (found === undefined) {
      throw reject(
        what,
        ENOENT,
        `no destination ${destinationKeyString(dest)} in ${serviceKeyString(entry.service.key)}`,
      );
    }
    return found;
  }

  function checkService(what: string, service: VirtualService): void {
    if (!schedulers.has(service.scheduler))
      throw reject(what, ENOENT, `unknown scheduler ${service.scheduler}`);
  }

  function checkDestination(what: string, destination: Destination): void {
    // ip_vs_add_dest / ip_vs_edit_dest: negative weight and lower > upper threshold are ERANGE.
    if (destination.weight < 0) throw reject(what, ERANGE, `negative weight ${destination.weight}`);
    if (destination.lowerThreshold > destination.upperThreshold) {
      throw reject(what, ERANGE, 'lower threshold above upper threshold');
    }
  }

  function stored(destination: Destination): Destination {
    const canonical = canonicalDestination(destination);
    if (canonical.forwarding === 'nat' && localAddresses.has(canonical.address)) {
      return { ...canonical, forwarding: 'local' };
    }
    return canonical;
  }

  function execute(operation: IpvsOperation): void {
    const what = operation.kind;
    switch (operation.kind) {
      case 'add-service': {
        const service = canonicalService(operation.service);
        const id = serviceKeyString(service.key);
        if (services.has(id)) throw reject(what, EEXIST, `service ${id} exists`);
        checkService(what, service);
        services.set(id, { service, stats: { ...ZERO_STATS }, destinations: new Map() });
        return;
      }
      case 'edit-service': {
        const entry = findService(what, operation.service.key);
        const service = canonicalService(operation.service);
        checkService(what, service);
        entry.service = service;
        return;
      }
      case 'delete-service': {
        findService(what, operation.key);
        services.delete(serviceKeyString(canonicalServiceKey(operation.key)));
        return;
      }
      case 'add-destination': {
        const entry = findService(what, operation.key);
        const destination = stored(operation.destination);
        checkDestination(what, destination);
        const id = destinationKeyString(destination);
        if (entry.destinations.has(id)) {
          throw reject(what, EEXIST, `destination ${id} exists in ${serviceKeyString(entry.service.key)}`);
        }
        entry.destinations.set(id, {
          destination,
          activeConns: 0,
          inactiveConns: 0,
          persistConns: 0,
          stats: { ...ZERO_STATS },
        });
        return;
      }
      case 'edit-destination': {
        const entry = findService(what, operation.key);
        const destination = stored(operation.destination);
        checkDestination(what, destination);
        const found = findDestination(what, entry, operation.destination);
        found.destination = destination;
        return;
      }
      case 'delete-destination': {
        const entry = findService(what, operation.key);
        findDestination(what, entry, operation.destination);
        entry.destinations.delete(destinationKeyString(canonicalDestinationKey(operation.destination)));
        return;
      }
      case 'set-timeouts': {
        const { tcpS, tcpFinS, udpS } = operation.timeouts;
        if (tcpS < 0 || tcpFinS < 0 || udpS < 0) throw reject(what, EINVAL, 'negative timeout');
        // ip_vs_set_timeout: 0 leaves that timeout unchanged.
        timeouts = {
          tcpS: tcpS || timeouts.tcpS,
          tcpFinS: tcpFinS || timeouts.tcpFinS,
          udpS: udpS || timeouts.udpS,
        };
        return;
      }
    }
  }

  function open(): void {
    if (closed) throw new IpvsdError('IPVSD_ERR_NETLINK', 'IPVS backend is closed');
  }

  // Written out field by field rather than spread: a dump of 10,000 destinations is what every
  // periodic resync of a large table reads (and what the check-scale bench's "kernel" does).
  function snapshot(entry: MutableService): ServiceState {
    const destinations: DestinationState[] = [];
    for (const d of entry.destinations.values()) {
      const { address, port, forwarding, weight, upperThreshold, lowerThreshold } = d.destination;
      destinations.push({
        address,
        port,
        forwarding,
        weight,
        upperThreshold,
        lowerThreshold,
        activeConns: d.activeConns,
        inactiveConns: d.inactiveConns,
        persistConns: d.persistConns,
        stats: copyStats(d.stats),
      });
    }
    const { key, scheduler, persistence, flags } = copyService(entry.service);
    return { key, scheduler, persistence, flags, stats: copyStats(entry.stats), destinations };
  }

  return {
    async info() {
      open();
      return { ...info };
    },
    async dump() {
      open();
      return [...services.values()].map(snapshot);
    },
    async apply(operations) {
      open();
      return operations.map((operation) => {
        let error: IpvsdError | null = null;
        try {
          execute(operation);
          applied += 1;
        } catch (caught) {
          if (!(caught instanceof IpvsdError)) throw caught;
          // Worded exactly as the kernel backend words the same errno, so tests see real messages.
          error = caught instanceof NetlinkError ? explainOperationError(operation, caught.errno) : caught;
        }
        const result: OperationResult = { operation, error };
        results.push(result);
        return result;
      });
    },
    async timeouts() {
      open();
      return { ...timeouts };
    },
    async daemons() {
      open();
      return [...daemons.values()].map((daemon) => ({ ...daemon }));
    },
    async startDaemon(daemon) {
      open();
      if (daemons.has(daemon.state)) throw reject('start-daemon', EEXIST, `${daemon.state} sync daemon runs`);
      daemons.set(daemon.state, { ...daemon });
    },
    async stopDaemon(state) {
      open();
      if (!daemons.has(state)) throw reject('stop-daemon', ESRCH, `no ${state} sync daemon`);
      daemons.delete(state);
    },
    switchDaemons(commands) {
      // Executed at once, as the kernel does for a datagram sent inside the call.
      const outcomes = commands.map((c): IpvsdError | null => {
        if (closed) return new IpvsdError('IPVSD_ERR_NETLINK', 'IPVS backend is closed');
        if (c.op === 'start') {
          if (daemons.has(c.daemon.state))
            return reject('start-daemon', EEXIST, `${c.daemon.state} sync daemon runs`);
          daemons.set(c.daemon.state, { ...c.daemon });
          return null;
        }
        if (!daemons.has(c.state)) return reject('stop-daemon', ESRCH, `no ${c.state} sync daemon`);
        daemons.delete(c.state);
        return null;
      });
      return { sent: true, done: Promise.resolve(outcomes) };
    },
    async flush() {
      open();
      services.clear();
    },
    async zero(key) {
      open();
      const targets = key === undefined ? [...services.values()] : [findService('zero', key)];
      for (const entry of targets) {
        entry.stats = { ...ZERO_STATS };
        for (const dest of entry.destinations.values()) dest.stats = { ...ZERO_STATS };
      }
    },
    close() {
      closed = true;
    },
    appliedCount: () => applied,
    history: () => [...results],
    setServiceStats(key, stats) {
      const entry = findService('set-service-stats', key);
      entry.stats = { ...entry.stats, ...stats };
    },
    setDestinationCounters(key, destination, counters) {
      const found = findDestination(
        'set-destination-counters',
        findService('set-destination-counters', key),
        destination,
      );
      if (counters.activeConns !== undefined) found.activeConns = counters.activeConns;
      if (counters.inactiveConns !== undefined) found.inactiveConns = counters.inactiveConns;
      if (counters.persistConns !== undefined) found.persistConns = counters.persistConns;
      if (counters.stats !== undefined) found.stats = { ...found.stats, ...counters.stats };
    },
    isClosed: () => closed,
  };
}

function copyService(service: VirtualService): VirtualService {
  return {
    key: { ...service.key },
    scheduler: service.scheduler,
    persistence: service.persistence === null ? null : { ...service.persistence },
    flags: service.flags,
  };
}

function copyStats(s: IpvsStats): IpvsStats {
  return {
    conns: s.conns,
    inPackets: s.inPackets,
    outPackets: s.outPackets,
    inBytes: s.inBytes,
    outBytes: s.outBytes,
    cps: s.cps,
    inPps: s.inPps,
    outPps: s.outPps,
    inBps: s.inBps,
    outBps: s.outBps,
  };
}
