/**
 * The VRRP state machine of RFC 5798 §6 (and RFC 3768 §6 for v2) as a pure function: given an
 * instance's state, one event and the time, `step` returns the next state and the actions for the
 * I/O around it to perform, in order. Nothing here reads a clock, a socket or a timer, so every
 * transition is a row in a table test (as google/seesaw does for its HA engine).
 *
 * Where the RFC leaves room, this follows keepalived: FAULT while a tracked interface or an
 * unweighted tracked script is down (a master entering FAULT sends priority 0 first); weighted
 * scripts move the effective priority within 1..254 and never touch an address owner's 255;
 * `preempt_delay` holds preemption off for a while after startup (or after leaving FAULT) and
 * after first hearing a lower-priority master; a master that hears a lower-priority advert
 * answers at once with its own (but, unlike keepalived, at most once per advert interval: see
 * masterReceives); `state: master` shortens only the first master-down wait.
 * Our own additions: `force_backup` (graceful handover: priority 0, then BACKUP, then no
 * preemption until this instance is master again, else the handover would undo itself), and an
 * advert sent at once when a master's effective priority changes, so a preempting backup learns
 * of it an interval sooner.
 *
 * Time: `now` is milliseconds on any monotonic clock; deadlines in set_timer actions are on the
 * same clock. An expiry event whose timer is not armed, or whose deadline is still ahead, is
 * stale and ignored. A received advert may carry its arrival time (earlier than `now` when it was
 * read late): a backup's master-down deadline counts from it, and may then already be past.
 */
import type { VrrpInstanceConfig } from '../config/types.js';
import { addressToBytes } from '../model/address.js';
import { advertIntervalMs, initialMasterDownIntervalMs, masterDownIntervalMs, skewTimeMs } from './timers.js';
import type { Advert, TimerKind, VrrpAction, VrrpEvent, VrrpState } from './types.js';

/** Priority of the address owner (RFC 5798 §5.2.4). */
export const VRRP_PRIO_OWNER = 255;
/** Priority that announces the master is leaving (RFC 5798 §5.2.4). */
export const VRRP_PRIO_STOP = 0;

/** What the state machine needs from the configuration. */
export interface InstanceParams {
  readonly name: string;
  readonly version: 2 | 3;
  readonly virtualRouterId: number;
  /** The configured priority, 1..255 (255: address owner). */
  readonly priority: number;
  /** Our Advertisement_Interval, centiseconds (v2: a multiple of 100). */
  readonly advertIntervalCs: number;
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  /** keepalived's `state`: `master` only shortens the first master-down wait. */
  readonly initialState: 'master' | 'backup';
  /** The source address of our adverts (interface primary or unicast_src_ip): the tie-break. */
  readonly primaryAddress: string;
}

export function instanceParamsFromConfig(config: VrrpInstanceConfig, primaryAddress: string): InstanceParams {
  return {
    name: config.name,
    version: config.version,
    virtualRouterId: config.virtualRouterId,
    priority: config.priority,
    advertIntervalCs: config.advertIntervalCs,
    preempt: config.preempt,
    preemptDelayMs: config.preemptDelayMs,
    initialState: config.state,
    primaryAddress,
  };
}

/**
 * keepalived's preempt_delay: `idle` (not started), `running` (lower-priority masters are still
 * accepted until the preempt_delay timer fires), `passed` (preemption allowed).
 */
export type PreemptDelayState = 'idle' | 'running' | 'passed';

export interface InstanceState {
  readonly params: InstanceParams;
  readonly state: VrrpState;
  /** The configured priority moved by weighted trackers (1..254), or 255 for an owner. */
  readonly effectivePriority: number;
  /** RFC 5798 §6.1 Master_Adver_Interval: learned from the master's adverts in v3. */
  readonly masterAdverIntervalCs: number;
  /** The master as last heard (ourselves while MASTER); null when unknown or gone. */
  readonly master: { readonly address: string; readonly priority: number } | null;
  /** Armed deadlines (ms), null when not armed. */
  readonly timers: Readonly<Record<TimerKind, number | null>>;
  readonly preemptDelay: PreemptDelayState;
  /** The trackers that hold the instance in FAULT (empty: none). */
  readonly faults: readonly string[];
  /** Set by force_backup: no preemption until this instance is master again. */
  readonly yielded: boolean;
  /**
   * BACKUP, but would be MASTER if its sync group let it (its master-down timer fired, or it is
   * the owner). Only a step with `mayBecomeMaster: false` sets it.
   */
  readonly wantsMaster: boolean;
  /** When this instance last answered a lower-priority advert as master (ms), null: never. */
  readonly lastAnswerAt: number | null;
}

export interface StepResult {
  readonly state: InstanceState;
  readonly actions: readonly VrrpAction[];
}

export interface StepOptions {
  /**
   * false: wherever the RFC says "transition to Master", stay (or go) BACKUP with `wantsMaster`
   * set and the master-down timer re-armed instead. A sync group steps its members this way and
   * promotes them together with `sync_master`. Default true.
   */
  readonly mayBecomeMaster?: boolean;
}

export function createInstanceState(params: InstanceParams): InstanceState {
  return {
    params,
    state: 'INIT',
    effectivePriority: params.priority,
    masterAdverIntervalCs: params.advertIntervalCs,
    master: null,
    timers: { advert: null, master_down: null, preempt_delay: null },
    preemptDelay: 'idle',
    faults: [],
    yielded: false,
    wantsMaster: false,
    lastAnswerAt: null,
  };
}

/**
 * The effective priority from the configured one and the sum of the weights of the tracked
 * scripts that currently apply (keepalived: clamped to 1..254; an owner stays at 255).
 */
export function effectivePriority(basePriority: number, weightSum: number): number {
  if (basePriority === VRRP_PRIO_OWNER) return VRRP_PRIO_OWNER;
  return Math.min(VRRP_PRIO_OWNER - 1, Math.max(1, Math.round(basePriority + weightSum)));
}

/**
 * Compares two addresses as unsigned big-endian byte strings (RFC 5798 §6.4.3: the higher
 * primary address wins a tie). Unparseable or mixed-family input compares equal.
 */
export function compareAddresses(a: string, b: string): number {
  const x = addressToBytes(a);
  const y = addressToBytes(b);
  if (x === null || y === null || x.length !== y.length) return 0;
  return Buffer.compare(x, y);
}

/** Master_Down_Interval of this instance now (ms, rounded up: see timers.ts). */
export function masterDownMs(s: InstanceState): number {
  return masterDownIntervalMs(s.params.version, s.effectivePriority, s.masterAdverIntervalCs);
}

/** Collects the actions of one step and keeps the timer deadlines in step with them. */
class Draft {
  readonly actions: VrrpAction[] = [];
  readonly timers: Record<TimerKind, number | null>;

  constructor(s: InstanceState) {
    this.timers = { ...s.timers };
  }

  push(action: VrrpAction): void {
    this.actions.push(action);
  }

  set(kind: TimerKind, at: number): void {
    this.timers[kind] = at;
    this.actions.push({ type: 'set_timer', kind, at });
  }

  cancel(kind: TimerKind): void {
    if (this.timers[kind] === null) return;
    this.timers[kind] = null;
    this.actions.push({ type: 'cancel_timer', kind });
  }

  finish(s: InstanceState, patch: Partial<Omit<InstanceState, 'timers' | 'params'>>): StepResult {
    return { state: { ...s, ...patch, timers: { ...this.timers } }, actions: this.actions };
  }
}

const unchanged = (s: InstanceState): StepResult => ({ state: s, actions: [] });

function preempting(s: InstanceState): boolean {
  return s.params.preempt && !s.yielded;
}

function due(s: InstanceState, kind: TimerKind, now: number): boolean {
  const at = s.timers[kind];
  return at !== null && now >= at;
}

function toMaster(s: InstanceState, now: number, d: Draft): StepResult {
  const priority = s.effectivePriority;
  d.cancel('master_down');
  d.cancel('preempt_delay');
  // The advert first: a master we are replacing removes its VIPs on hearing it, before our
  // gratuitous ARP (keepalived orders it the same way).
  d.push({ type: 'send_advert', priority });
  d.set('advert', now + advertIntervalMs(s.params.advertIntervalCs));
  d.push({ type: 'become_master' });
  d.push({ type: 'notify', state: 'MASTER', priority });
  return d.finish(s, {
    state: 'MASTER',
    masterAdverIntervalCs: s.params.advertIntervalCs,
    master: { address: s.params.primaryAddress, priority },
    preemptDelay: 'idle',
    yielded: false,
    wantsMaster: false,
  });
}

interface BackupEntry {
  readonly downAt: number;
  readonly masterAdverIntervalCs: number;
  readonly master: InstanceState['master'];
  /** Leaving MASTER on our own account: tell the backups so they take over after Skew_Time. */
  readonly sendPriorityZero: boolean;
  readonly yielded: boolean;
  readonly wantsMaster: boolean;
  /** Entering from INIT or FAULT: keepalived's preempt_delay runs "after startup". */
  readonly startPreemptDelay: boolean;
}

function toBackup(s: InstanceState, now: number, d: Draft, e: BackupEntry): StepResult {
  d.cancel('advert');
  if (e.sendPriorityZero) d.push({ type: 'send_advert', priority: VRRP_PRIO_STOP });
  d.push({ type: 'become_backup' });
  d.set('master_down', e.downAt);
  let preemptDelay: PreemptDelayState = 'idle';
  if (e.startPreemptDelay && preempting({ ...s, yielded: e.yielded }) && s.params.preemptDelayMs > 0) {
    d.set('preempt_delay', now + s.params.preemptDelayMs);
    preemptDelay = 'running';
  } else {
    d.cancel('preempt_delay');
  }
  d.push({ type: 'notify', state: 'BACKUP', priority: s.effectivePriority });
  return d.finish(s, {
    state: 'BACKUP',
    masterAdverIntervalCs: e.masterAdverIntervalCs,
    master: e.master,
    preemptDelay,
    yielded: e.yielded,
    wantsMaster: e.wantsMaster,
  });
}

/** Leaving the election (FAULT or stop): no timers run, and a master tells the backups at once. */
function stopTimersAndResign(s: InstanceState, d: Draft): void {
  d.cancel('advert');
  d.cancel('master_down');
  d.cancel('preempt_delay');
  if (s.state === 'MASTER') d.push({ type: 'send_advert', priority: VRRP_PRIO_STOP });
}

/**
 * A master stepping down on purpose (a handover, or its sync group demoting it): priority 0 so the
 * peer takes over after its skew time, then BACKUP timed on our own advert interval. `yielded`
 * keeps it from preempting straight back after a handover.
 */
function resignToBackup(s: InstanceState, now: number, yielded: boolean): StepResult {
  const fresh: InstanceState = { ...s, masterAdverIntervalCs: s.params.advertIntervalCs };
  return toBackup(s, now, new Draft(s), {
    downAt: now + masterDownMs(fresh),
    masterAdverIntervalCs: s.params.advertIntervalCs,
    master: null,
    sendPriorityZero: true,
    yielded,
    wantsMaster: false,
    startPreemptDelay: false,
  });
}

function toFault(s: InstanceState, d: Draft, faults: readonly string[]): StepResult {
  stopTimersAndResign(s, d);
  d.push({ type: 'become_fault' });
  d.push({ type: 'notify', state: 'FAULT', priority: s.effectivePriority });
  return d.finish(s, {
    state: 'FAULT',
    faults,
    masterAdverIntervalCs: s.params.advertIntervalCs,
    master: null,
    preemptDelay: 'idle',
    wantsMaster: false,
  });
}

function toInit(s: InstanceState, d: Draft): StepResult {
  stopTimersAndResign(s, d);
  d.push({ type: 'stop' });
  d.push({ type: 'notify', state: 'STOP', priority: s.effectivePriority });
  return d.finish(s, {
    state: 'INIT',
    masterAdverIntervalCs: s.params.advertIntervalCs,
    master: null,
    preemptDelay: 'idle',
    yielded: false,
    wantsMaster: false,
  });
}

/** RFC 5798 §6.4.1, from INIT at startup or from FAULT when the last fault clears. */
function initialize(s: InstanceState, now: number, mayBecomeMaster: boolean, atStartup: boolean): StepResult {
  const d = new Draft(s);
  const fresh: InstanceState = { ...s, masterAdverIntervalCs: s.params.advertIntervalCs, master: null };
  const mdi = masterDownMs(fresh);
  if (s.effectivePriority === VRRP_PRIO_OWNER) {
    if (mayBecomeMaster) return toMaster(fresh, now, d);
    return toBackup(fresh, now, d, {
      downAt: now + mdi,
      masterAdverIntervalCs: s.params.advertIntervalCs,
      master: null,
      sendPriorityZero: false,
      yielded: atStartup ? false : s.yielded,
      wantsMaster: true,
      startPreemptDelay: false,
    });
  }
  const firstWait =
    atStartup && s.params.initialState === 'master'
      ? initialMasterDownIntervalMs(s.params.version, s.params.advertIntervalCs)
      : mdi;
  return toBackup(fresh, now, d, {
    downAt: now + firstWait,
    masterAdverIntervalCs: s.params.advertIntervalCs,
    master: null,
    sendPriorityZero: false,
    yielded: atStartup ? false : s.yielded,
    wantsMaster: false,
    startPreemptDelay: true,
  });
}

/** When an advert arrived: its `receivedAt`, never later than now; now when unknown. */
function arrival(receivedAt: number | undefined, now: number): number {
  return receivedAt !== undefined && Number.isFinite(receivedAt) ? Math.min(now, receivedAt) : now;
}

/**
 * `arrived`: when the advert arrived (≤ now). The master-down timer counts from there (RFC 5798
 * §6.4.2 resets it on receipt), so an advert read late does not push the takeover back by the
 * delay; a deadline already past makes the timer fire at once. Everything else uses `now`.
 */
function backupReceives(s: InstanceState, advert: Advert, now: number, arrived: number): StepResult {
  const d = new Draft(s);
  const { version } = s.params;
  if (advert.priority === VRRP_PRIO_STOP) {
    // The master is leaving: take over after Skew_Time, so the highest-priority backup goes first.
    d.set('master_down', arrived + skewTimeMs(version, s.effectivePriority, s.masterAdverIntervalCs));
    return d.finish(s, { master: null });
  }
  const lower = advert.priority < s.effectivePriority;
  const heard = { address: advert.srcAddress, priority: advert.priority };
  let preemptDelay = s.preemptDelay;
  if (preempting(s) && lower) {
    if (s.params.preemptDelayMs === 0 || preemptDelay === 'passed') {
      // RFC 5798 §6.4.2: discard, so the master-down timer runs out and we preempt.
      return d.finish(s, { master: heard });
    }
    if (preemptDelay === 'idle') {
      d.set('preempt_delay', now + s.params.preemptDelayMs);
      preemptDelay = 'running';
    }
  } else if (!lower && preemptDelay !== 'idle') {
    // A master at least as good as us: no preemption pending any more (keepalived does the same).
    d.cancel('preempt_delay');
    preemptDelay = 'idle';
  }
  // Accept: learn the master's interval (v3; a v2 interval mismatch never gets past the codec).
  const masterAdverIntervalCs =
    version === 3 && advert.advertIntervalCs > 0 ? advert.advertIntervalCs : s.masterAdverIntervalCs;
  const next: InstanceState = { ...s, masterAdverIntervalCs };
  d.set('master_down', arrived + masterDownMs(next));
  return d.finish(s, { masterAdverIntervalCs, master: heard, preemptDelay, wantsMaster: false });
}

function masterReceives(s: InstanceState, advert: Advert, now: number): StepResult {
  const d = new Draft(s);
  const priority = s.effectivePriority;
  if (advert.priority === VRRP_PRIO_STOP) {
    // RFC 5798 §6.4.3: answer at once so the backups do not time out. Unlike the RFC, the
    // Adver_Timer keeps its cadence: reset here, this member's adverts would fall out of step
    // with the rest of its sync group for good (a peer group stepping down after hearing our
    // other member sends priority 0 on this one a round trip later), and when we die the peer
    // group's takeover waits for the later of our members' last adverts.
    d.push({ type: 'send_advert', priority });
    return d.finish(s, {});
  }
  const cmp = advert.priority - priority || compareAddresses(advert.srcAddress, s.params.primaryAddress);
  if (cmp > 0) {
    const masterAdverIntervalCs =
      s.params.version === 3 && advert.advertIntervalCs > 0
        ? advert.advertIntervalCs
        : s.params.advertIntervalCs;
    return toBackup(s, now, d, {
      downAt: now + masterDownMs({ ...s, masterAdverIntervalCs }),
      masterAdverIntervalCs,
      master: { address: advert.srcAddress, priority: advert.priority },
      sendPriorityZero: false,
      yielded: s.yielded,
      wantsMaster: false,
      startPreemptDelay: false,
    });
  }
  if (cmp < 0) {
    // The RFC discards it; keepalived answers at once so a lower-priority router that took over
    // during a break in communication hears us and steps down without waiting for our timer.
    // keepalived answers every one; we answer at most once per Advertisement_Interval, else a
    // flood of forged lower-priority adverts is reflected one for one onto the link. That router
    // still hears us within an interval, as it would from our timer alone. (Priority-0 adverts
    // above stay unlimited: a backup that heard one takes over after Skew_Time unless we answer.)
    const interval = advertIntervalMs(s.params.advertIntervalCs);
    if (s.lastAnswerAt !== null && now - s.lastAnswerAt < interval) return unchanged(s);
    d.push({ type: 'send_advert', priority });
    return d.finish(s, { lastAnswerAt: now });
  }
  // cmp === 0: our own priority from our own address, i.e. our advert looped back: ignore.
  return d.finish(s, {});
}

function priorityChanged(s: InstanceState, requested: number, now: number): StepResult {
  if (s.params.priority === VRRP_PRIO_OWNER) return unchanged(s);
  const priority = Math.min(VRRP_PRIO_OWNER - 1, Math.max(1, Math.round(requested)));
  if (priority === s.effectivePriority) return unchanged(s);
  const d = new Draft(s);
  const next: InstanceState = { ...s, effectivePriority: priority };
  if (s.state === 'BACKUP') {
    // Keep "deadline = last accepted advert + Master_Down_Interval" true for the new skew.
    const at = s.timers.master_down;
    if (at !== null) d.set('master_down', Math.max(now, at + masterDownMs(next) - masterDownMs(s)));
  } else if (s.state === 'MASTER') {
    d.push({ type: 'send_advert', priority });
    d.set('advert', now + advertIntervalMs(s.params.advertIntervalCs));
    return d.finish(s, {
      effectivePriority: priority,
      master: { address: s.params.primaryAddress, priority },
    });
  }
  return d.finish(s, { effectivePriority: priority });
}

function reconfigure(s: InstanceState, params: InstanceParams, now: number): StepResult {
  if (JSON.stringify(params) === JSON.stringify(s.params)) return unchanged(s);
  const d = new Draft(s);
  const next: InstanceState = { ...s, params };
  if (s.state === 'MASTER') {
    // Tell the backups now (new VIP list, interval), and keep the new cadence from here.
    d.push({ type: 'send_advert', priority: s.effectivePriority });
    d.set('advert', now + advertIntervalMs(params.advertIntervalCs));
    return d.finish(next, {
      masterAdverIntervalCs: params.advertIntervalCs,
      master: { address: params.primaryAddress, priority: s.effectivePriority },
    });
  }
  if (s.state !== 'BACKUP') {
    return d.finish(next, { masterAdverIntervalCs: params.advertIntervalCs });
  }
  let preemptDelay = s.preemptDelay;
  if (preemptDelay === 'running' && (!params.preempt || params.preemptDelayMs === 0)) {
    d.cancel('preempt_delay');
    preemptDelay = 'idle';
  }
  // v2 masters must use our interval (the codec drops others), so it is ours; v3 keeps the learned one.
  const masterAdverIntervalCs = params.version === 2 ? params.advertIntervalCs : s.masterAdverIntervalCs;
  return d.finish(next, { preemptDelay, masterAdverIntervalCs });
}

export function step(s: InstanceState, event: VrrpEvent, now: number, options: StepOptions = {}): StepResult {
  const mayBecomeMaster = options.mayBecomeMaster ?? true;
  switch (event.type) {
    case 'startup': {
      if (s.state !== 'INIT') return unchanged(s);
      if (s.faults.length > 0) return toFault({ ...s, yielded: false }, new Draft(s), s.faults);
      return initialize(s, now, mayBecomeMaster, true);
    }

    case 'shutdown':
      return s.state === 'INIT' ? unchanged(s) : toInit(s, new Draft(s));

    case 'advert_received': {
      const { advert } = event;
      if (advert.vrid !== s.params.virtualRouterId || advert.version !== s.params.version)
        return unchanged(s);
      if (s.state === 'BACKUP') return backupReceives(s, advert, now, arrival(event.receivedAt, now));
      if (s.state === 'MASTER') return masterReceives(s, advert, now);
      return unchanged(s);
    }

    case 'master_down_timer_expired': {
      if (s.state !== 'BACKUP' || !due(s, 'master_down', now)) return unchanged(s);
      const d = new Draft(s);
      if (mayBecomeMaster) return toMaster(s, now, d);
      // Held by the sync group: keep watching, and say we would be master.
      d.set('master_down', now + masterDownMs(s));
      return d.finish(s, { wantsMaster: true });
    }

    case 'advert_timer_expired': {
      if (s.state !== 'MASTER' || !due(s, 'advert', now)) return unchanged(s);
      const d = new Draft(s);
      d.push({ type: 'send_advert', priority: s.effectivePriority });
      // Periodic from the deadline, not from when the timer got to run: a late timer does not
      // push every later advert back, so the members of a sync group, made master in one step,
      // keep advertising together. Their backup group hears both members' last adverts at once
      // when this master dies, and does not wait a further part of an interval for the later
      // member's master-down timer. Only a timer late by a whole interval starts again from now.
      const interval = advertIntervalMs(s.params.advertIntervalCs);
      const deadline = s.timers.advert ?? now;
      d.set('advert', deadline + interval > now ? deadline + interval : now + interval);
      return d.finish(s, {});
    }

    case 'preempt_delay_expired': {
      if (s.state !== 'BACKUP' || s.preemptDelay !== 'running' || !due(s, 'preempt_delay', now)) {
        return unchanged(s);
      }
      // From now on a lower-priority master's adverts are discarded (see backupReceives).
      return {
        state: { ...s, preemptDelay: 'passed', timers: { ...s.timers, preempt_delay: null } },
        actions: [],
      };
    }

    case 'fault': {
      if (s.faults.includes(event.reason)) return unchanged(s);
      const faults = [...s.faults, event.reason];
      if (s.state === 'BACKUP' || s.state === 'MASTER') return toFault(s, new Draft(s), faults);
      return { state: { ...s, faults }, actions: [] };
    }

    case 'fault_cleared': {
      if (!s.faults.includes(event.reason)) return unchanged(s);
      const faults = s.faults.filter((reason) => reason !== event.reason);
      const next: InstanceState = { ...s, faults };
      if (s.state === 'FAULT' && faults.length === 0) return initialize(next, now, mayBecomeMaster, false);
      return { state: next, actions: [] };
    }

    case 'priority_changed':
      return priorityChanged(s, event.priority, now);

    case 'force_backup': {
      if (s.state === 'MASTER') {
        return resignToBackup(s, now, true);
      }
      if (s.state === 'BACKUP') {
        const d = new Draft(s);
        d.cancel('preempt_delay');
        return d.finish(s, { yielded: true, preemptDelay: 'idle' });
      }
      return unchanged(s);
    }

    case 'reconfigure':
      return reconfigure(s, event.params, now);

    case 'sync_master':
      return s.state === 'BACKUP' && s.wantsMaster ? toMaster(s, now, new Draft(s)) : unchanged(s);

    case 'sync_backup': {
      if (s.state !== 'MASTER') return unchanged(s);
      return resignToBackup(s, now, false);
    }
  }
}
