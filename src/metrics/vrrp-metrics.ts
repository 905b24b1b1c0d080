/**
 * VRRP and sync-daemon series (`ipvsd_vrrp_*`). The speaker and the follower already keep every
 * number, so nothing is updated on events here: each scrape reads one snapshot (the same data as
 * `ipvsctl status --json`'s `vrrp` section) and the families are refilled from it. So a series can
 * never disagree with the status, and an instance removed by a reload leaves the exposition at the
 * next scrape. Counters are the speaker's own counts since the daemon started; the socket drops
 * are the kernel's (SO_RXQ_OVFL), kept across a socket's reopening.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

type State = 'MASTER' | 'BACKUP' | 'FAULT' | 'INIT';
const STATES: readonly State[] = ['MASTER', 'BACKUP', 'FAULT', 'INIT'];
const DAEMON_STATES = ['master', 'backup'] as const;

/** What a scrape reads (structurally the status' `vrrp` section). */
export interface VrrpMetricsSnapshot {
  readonly instances: readonly {
    readonly name: string;
    readonly state: State;
    readonly priority: number;
    readonly master_address?: string | null;
    readonly transitions_by_state?: Readonly<Record<State, number>>;
    readonly last_transition?: string | null;
    readonly adverts?: {
      readonly sent: number;
      readonly received: number;
      readonly dropped: Readonly<Record<string, number>>;
    };
  }[];
  readonly sync_groups: readonly {
    readonly name: string;
    readonly state: State;
    readonly members?: readonly string[];
    readonly transitions_by_state?: Readonly<Record<State, number>>;
    readonly last_transition?: string | null;
  }[];
  /** The speaker's VRRP sockets (VrrpSpeakerStatus.sockets). */
  readonly sockets?: readonly {
    readonly interface: string;
    readonly family: 'inet' | 'inet6';
    readonly drops: number;
  }[];
  readonly sync_daemon?: {
    readonly running: readonly ('master' | 'backup')[];
    readonly wanted: 'master' | 'backup' | null;
    readonly switches: number;
    readonly errors: number;
  } | null;
}

/** Registers the families in `registry`; `snapshot` is called during each scrape (null: no VRRP). */
export function registerVrrpMetrics(registry: Registry, snapshot: () => VrrpMetricsSnapshot | null): void {
  const registers = [registry];
  // One snapshot per scrape for all families: the first collect() of a scrape takes it.
  let current: VrrpMetricsSnapshot | null = null;
  let taken = false;
  const read = (): VrrpMetricsSnapshot | null => {
    if (!taken) {
      taken = true;
      current = snapshot();
      queueMicrotask(() => {
        taken = false;
      });
    }
    return current;
  };
  const instances = () => read()?.instances ?? [];
  const groups = () => read()?.sync_groups ?? [];
  const seconds = (iso: string | null | undefined): number | null => {
    if (iso === null || iso === undefined) return null;
    const ms = Date.parse(iso);
    return Number.isFinite(ms) ? ms / 1000 : null;
  };

  new Gauge({
    name: 'ipvsd_vrrp_instance_state',
    help: 'VRRP instance state: 1 for the state the instance is in, 0 for the others.',
    labelNames: ['instance', 'state'],
    registers,
    collect() {
      this.reset();
      for (const i of instances())
        for (const s of STATES) this.set({ instance: i.name, state: s }, i.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ipvsd_vrrp_instance_priority',
    help: 'Effective VRRP priority of the instance (configured priority plus tracker weights).',
    labelNames: ['instance'],
    registers,
    collect() {
      this.reset();
      for (const i of instances()) this.set({ instance: i.name }, i.priority);
    },
  });
  new Gauge({
    name: 'ipvsd_vrrp_instance_master_info',
    help: 'Constant 1, labelled by the primary address of the last master the instance heard (itself while master).',
    labelNames: ['instance', 'master_address'],
    registers,
    collect() {
      this.reset();
      for (const i of instances())
        if (i.master_address) this.set({ instance: i.name, master_address: i.master_address }, 1);
    },
  });
  new Counter({
    name: 'ipvsd_vrrp_instance_transitions_total',
    help: 'VRRP state transitions of the instance, by the state entered.',
    labelNames: ['instance', 'to_state'],
    registers,
    collect() {
      this.reset();
      for (const i of instances())
        for (const s of STATES) this.inc({ instance: i.name, to_state: s }, i.transitions_by_state?.[s] ?? 0);
    },
  });
  new Gauge({
    name: 'ipvsd_vrrp_instance_last_transition_timestamp_seconds',
    help: 'When the instance last changed state, in seconds since the epoch.',
    labelNames: ['instance'],
    registers,
    collect() {
      this.reset();
      for (const i of instances()) {
        const at = seconds(i.last_transition);
        if (at !== null) this.set({ instance: i.name }, at);
      }
    },
  });
  new Counter({
    name: 'ipvsd_vrrp_instance_adverts_sent_total',
    help: 'VRRP advertisements the instance sent.',
    labelNames: ['instance'],
    registers,
    collect() {
      this.reset();
      for (const i of instances()) this.inc({ instance: i.name }, i.adverts?.sent ?? 0);
    },
  });
  new Counter({
    name: 'ipvsd_vrrp_instance_adverts_received_total',
    help: 'Valid VRRP advertisements the instance received.',
    labelNames: ['instance'],
    registers,
    collect() {
      this.reset();
      for (const i of instances()) this.inc({ instance: i.name }, i.adverts?.received ?? 0);
    },
  });
  new Counter({
    name: 'ipvsd_vrrp_instance_adverts_dropped_total',
    help: 'VRRP advertisements for the instance that were dropped, by reason.',
    labelNames: ['instance', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const i of instances())
        for (const [reason, n] of Object.entries(i.adverts?.dropped ?? {}))
          this.inc({ instance: i.name, reason }, n);
    },
  });
  new Counter({
    name: 'ipvsd_vrrp_socket_drops_total',
    help: 'Packets the kernel dropped on a VRRP socket because its receive queue was full (SO_RXQ_OVFL).',
    labelNames: ['interface', 'family'],
    registers,
    collect() {
      this.reset();
      for (const k of read()?.sockets ?? []) this.inc({ interface: k.interface, family: k.family }, k.drops);
    },
  });
  new Gauge({
    name: 'ipvsd_vrrp_sync_group_state',
    help: 'VRRP sync group state: 1 for the state the group is in, 0 for the others.',
    labelNames: ['sync_group', 'state'],
    registers,
    collect() {
      this.reset();
      for (const g of groups())
        for (const s of STATES) this.set({ sync_group: g.name, state: s }, g.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ipvsd_vrrp_sync_group_member_info',
    help: 'Constant 1 for each instance of a sync group (join the instance series on it).',
    labelNames: ['sync_group', 'instance'],
    registers,
    collect() {
      this.reset();
      for (const g of groups())
        for (const m of g.members ?? []) this.set({ sync_group: g.name, instance: m }, 1);
    },
  });
  new Counter({
    name: 'ipvsd_vrrp_sync_group_transitions_total',
    help: 'VRRP sync group state transitions, by the state entered.',
    labelNames: ['sync_group', 'to_state'],
    registers,
    collect() {
      this.reset();
      for (const g of groups())
        for (const s of STATES)
          this.inc({ sync_group: g.name, to_state: s }, g.transitions_by_state?.[s] ?? 0);
    },
  });
  new Gauge({
    name: 'ipvsd_vrrp_sync_group_last_transition_timestamp_seconds',
    help: 'When the sync group last changed state, in seconds since the epoch.',
    labelNames: ['sync_group'],
    registers,
    collect() {
      this.reset();
      for (const g of groups()) {
        const at = seconds(g.last_transition);
        if (at !== null) this.set({ sync_group: g.name }, at);
      }
    },
  });
  new Gauge({
    name: 'ipvsd_vrrp_sync_daemon_running',
    help: 'Whether the kernel IPVS sync daemon of this state runs (as last read after a switch).',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      const d = read()?.sync_daemon;
      if (d) for (const s of DAEMON_STATES) this.set({ state: s }, d.running.includes(s) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ipvsd_vrrp_sync_daemon_wanted',
    help: 'The sync daemon state the followed VRRP state asks for: 1 for it, 0 for the other.',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      const d = read()?.sync_daemon;
      if (d) for (const s of DAEMON_STATES) this.set({ state: s }, d.wanted === s ? 1 : 0);
    },
  });
  new Counter({
    name: 'ipvsd_vrrp_sync_daemon_switches_total',
    help: 'Times the follower changed which IPVS sync daemon runs.',
    registers,
    collect() {
      this.reset();
      this.inc(read()?.sync_daemon?.switches ?? 0);
    },
  });
  new Counter({
    name: 'ipvsd_vrrp_sync_daemon_errors_total',
    help: 'Sync daemon switches the kernel refused or did not answer.',
    registers,
    collect() {
      this.reset();
      this.inc(read()?.sync_daemon?.errors ?? 0);
    },
  });
}
