import { describe, expect, it } from 'vitest';
import {
  compareAddresses,
  createInstanceState,
  effectivePriority,
  type InstanceParams,
  type InstanceState,
  instanceParamsFromConfig,
  type StepOptions,
  step,
} from '../../../src/vrrp/state-machine.js';
import type { Advert, NotifyState, TimerKind, VrrpAction, VrrpEvent } from '../../../src/vrrp/types.js';

// RFC 5737 addresses only. Our primary address is 192.0.2.10.
const PRIMARY = '192.0.2.10';
const PEER = '192.0.2.20';
const NOW = 10_000;

const PARAMS: InstanceParams = {
  name: 'VI_1',
  version: 3,
  virtualRouterId: 51,
  priority: 100,
  advertIntervalCs: 100,
  preempt: true,
  preemptDelayMs: 0,
  initialState: 'backup',
  primaryAddress: PRIMARY,
};

// Master_Down_Interval for priority 100 at 100 cs: 3 × 1000 + 156 × 1000 / 256 = 3609.375 → 3610 ms.
const MDI_100 = 3610;
// Skew_Time for priority 100 at 100 cs: 609.375 → 610 ms.
const SKEW_100 = 610;

type Patch = Partial<Omit<InstanceState, 'timers' | 'params'>> & {
  readonly timers?: Partial<Record<TimerKind, number | null>>;
  readonly params?: Partial<InstanceParams>;
};

function inst(patch: Patch = {}): InstanceState {
  const { params, timers, ...rest } = patch;
  const base = createInstanceState({ ...PARAMS, ...params });
  return {
    ...base,
    ...(params?.priority !== undefined ? { effectivePriority: params.priority } : {}),
    ...rest,
    timers: { ...base.timers, ...timers },
  };
}

const backup = (patch: Patch = {}): InstanceState =>
  inst({ state: 'BACKUP', ...patch, timers: { master_down: NOW + 2000, ...patch.timers } });
const master = (patch: Patch = {}): InstanceState =>
  inst({
    state: 'MASTER',
    master: { address: PRIMARY, priority: patch.params?.priority ?? 100 },
    ...patch,
    timers: { advert: NOW, ...patch.timers },
  });

function advert(priority: number, srcAddress = PEER, advertIntervalCs = 100, version: 2 | 3 = 3): VrrpEvent {
  const a: Advert = {
    version,
    vrid: 51,
    priority,
    advertIntervalCs,
    srcAddress,
    addresses: ['203.0.113.100'],
  };
  return { type: 'advert_received', advert: a };
}

const send = (priority: number): VrrpAction => ({ type: 'send_advert', priority });
const set = (kind: TimerKind, at: number): VrrpAction => ({ type: 'set_timer', kind, at });
const cancel = (kind: TimerKind): VrrpAction => ({ type: 'cancel_timer', kind });
const notify = (state: NotifyState, priority = 100): VrrpAction => ({ type: 'notify', state, priority });
const BECOME_MASTER: VrrpAction = { type: 'become_master' };
const BECOME_BACKUP: VrrpAction = { type: 'become_backup' };
const BECOME_FAULT: VrrpAction = { type: 'become_fault' };
const STOP: VrrpAction = { type: 'stop' };

const EV = {
  startup: { type: 'startup' },
  shutdown: { type: 'shutdown' },
  masterDown: { type: 'master_down_timer_expired' },
  advertTimer: { type: 'advert_timer_expired' },
  preemptDelay: { type: 'preempt_delay_expired' },
  forceBackup: { type: 'force_backup' },
  syncMaster: { type: 'sync_master' },
  syncBackup: { type: 'sync_backup' },
  fault: (reason: string): VrrpEvent => ({ type: 'fault', reason }),
  cleared: (reason: string): VrrpEvent => ({ type: 'fault_cleared', reason }),
  priority: (priority: number): VrrpEvent => ({ type: 'priority_changed', priority }),
} as const satisfies Record<string, VrrpEvent | ((x: never) => VrrpEvent)>;

/** [title, before, event, after, actions, options?] — `now` is NOW unless the title says otherwise. */
type Row = [string, InstanceState, VrrpEvent, InstanceState, VrrpAction[], StepOptions?];

function check(rows: Row[]): void {
  it.each(rows)('%s', (_title, before, event, after, actions, options) => {
    expect(step(before, event, NOW, options)).toEqual({ state: after, actions });
  });
}

describe('step: Initialize (RFC 5798 §6.4.1)', () => {
  check([
    [
      'startup → BACKUP, Master_Down_Timer = Master_Down_Interval',
      inst(),
      EV.startup,
      inst({ state: 'BACKUP', timers: { master_down: NOW + MDI_100 } }),
      [BECOME_BACKUP, set('master_down', NOW + MDI_100), notify('BACKUP')],
    ],
    [
      'address owner (255) → MASTER at once: advert, Adver_Timer, VIPs',
      inst({ params: { priority: 255 } }),
      EV.startup,
      inst({
        params: { priority: 255 },
        state: 'MASTER',
        master: { address: PRIMARY, priority: 255 },
        timers: { advert: NOW + 1000 },
      }),
      [send(255), set('advert', NOW + 1000), BECOME_MASTER, notify('MASTER', 255)],
    ],
    [
      'keepalived `state: master` → BACKUP, but the first wait is one interval + the least skew (1003.9 → 1004 ms)',
      inst({ params: { initialState: 'master' } }),
      EV.startup,
      inst({ params: { initialState: 'master' }, state: 'BACKUP', timers: { master_down: NOW + 1004 } }),
      [BECOME_BACKUP, set('master_down', NOW + 1004), notify('BACKUP')],
    ],
    [
      'v3 at 10 cs (100 ms adverts): Master_Down_Interval 300 + 60.9375 → 361 ms',
      inst({ params: { advertIntervalCs: 10 } }),
      EV.startup,
      inst({ params: { advertIntervalCs: 10 }, state: 'BACKUP', timers: { master_down: NOW + 361 } }),
      [BECOME_BACKUP, set('master_down', NOW + 361), notify('BACKUP')],
    ],
    [
      'preempt_delay (keepalived): preemption held off for the delay after startup',
      inst({ params: { preemptDelayMs: 30_000 } }),
      EV.startup,
      inst({
        params: { preemptDelayMs: 30_000 },
        state: 'BACKUP',
        preemptDelay: 'running',
        timers: { master_down: NOW + MDI_100, preempt_delay: NOW + 30_000 },
      }),
      [
        BECOME_BACKUP,
        set('master_down', NOW + MDI_100),
        set('preempt_delay', NOW + 30_000),
        notify('BACKUP'),
      ],
    ],
    [
      'preempt: false ignores preempt_delay',
      inst({ params: { preempt: false, preemptDelayMs: 30_000 } }),
      EV.startup,
      inst({
        params: { preempt: false, preemptDelayMs: 30_000 },
        state: 'BACKUP',
        timers: { master_down: NOW + MDI_100 },
      }),
      [BECOME_BACKUP, set('master_down', NOW + MDI_100), notify('BACKUP')],
    ],
    [
      'a tracker already down → FAULT instead of BACKUP',
      inst({ faults: ['interface eth1'] }),
      EV.startup,
      inst({ faults: ['interface eth1'], state: 'FAULT' }),
      [BECOME_FAULT, notify('FAULT')],
    ],
    ['startup when already started: ignored', backup(), EV.startup, backup(), []],
    ['shutdown in INIT: ignored', inst(), EV.shutdown, inst(), []],
  ]);
});

describe('step: Backup (RFC 5798 §6.4.2)', () => {
  const heard = (priority: number, address = PEER) => ({ address, priority });
  check([
    [
      'higher priority advert: Master_Down_Timer reset',
      backup(),
      advert(150),
      backup({ master: heard(150), timers: { master_down: NOW + MDI_100 } }),
      [set('master_down', NOW + MDI_100)],
    ],
    [
      'equal priority advert: accepted even from a higher address (the tie-break is the master’s)',
      backup(),
      advert(100, '192.0.2.200'),
      backup({ master: heard(100, '192.0.2.200'), timers: { master_down: NOW + MDI_100 } }),
      [set('master_down', NOW + MDI_100)],
    ],
    [
      'lower priority advert with preempt: discarded, so the timer runs out and we preempt',
      backup(),
      advert(50),
      backup({ master: heard(50) }),
      [],
    ],
    [
      'lower priority advert with preempt: false: accepted',
      backup({ params: { preempt: false } }),
      advert(50),
      backup({ params: { preempt: false }, master: heard(50), timers: { master_down: NOW + MDI_100 } }),
      [set('master_down', NOW + MDI_100)],
    ],
    [
      'v3 learns Master_Adver_Interval from the advert: 50 cs → 1500 + 304.6875 → 1805 ms',
      backup(),
      advert(150, PEER, 50),
      backup({ master: heard(150), masterAdverIntervalCs: 50, timers: { master_down: NOW + 1805 } }),
      [set('master_down', NOW + 1805)],
    ],
    [
      'v2 keeps its own interval (a mismatch never gets past the codec)',
      backup({ params: { version: 2 } }),
      advert(150, PEER, 200, 2),
      backup({ params: { version: 2 }, master: heard(150), timers: { master_down: NOW + MDI_100 } }),
      [set('master_down', NOW + MDI_100)],
    ],
    [
      'priority 0 (master leaving): Master_Down_Timer = Skew_Time (610 ms)',
      backup({ master: heard(150) }),
      advert(0),
      backup({ master: null, timers: { master_down: NOW + SKEW_100 } }),
      [set('master_down', NOW + SKEW_100)],
    ],
    [
      'priority 0: Skew_Time uses the learned Master_Adver_Interval (50 cs → 304.6875 → 305 ms)',
      backup({ masterAdverIntervalCs: 50 }),
      advert(0),
      backup({ masterAdverIntervalCs: 50, timers: { master_down: NOW + 305 } }),
      [set('master_down', NOW + 305)],
    ],
    [
      'priority 0 in v2: Skew_Time is (256 − 200) / 256 s = 218.75 → 219 ms',
      backup({ params: { version: 2, priority: 200 } }),
      advert(0, PEER, 100, 2),
      backup({ params: { version: 2, priority: 200 }, timers: { master_down: NOW + 219 } }),
      [set('master_down', NOW + 219)],
    ],
    [
      'Master_Down_Timer fires → MASTER: advert first, then VIPs and gratuitous ARP',
      backup({ master: heard(150), masterAdverIntervalCs: 50, timers: { master_down: NOW } }),
      EV.masterDown,
      inst({ state: 'MASTER', master: heard(100, PRIMARY), timers: { advert: NOW + 1000 } }),
      [cancel('master_down'), send(100), set('advert', NOW + 1000), BECOME_MASTER, notify('MASTER')],
    ],
    [
      'a stale Master_Down_Timer (deadline still ahead): ignored',
      backup({ timers: { master_down: NOW + 1 } }),
      EV.masterDown,
      backup({ timers: { master_down: NOW + 1 } }),
      [],
    ],
    [
      'a cancelled Master_Down_Timer: ignored',
      backup({ timers: { master_down: null } }),
      EV.masterDown,
      backup({ timers: { master_down: null } }),
      [],
    ],
    [
      'held by a sync group (mayBecomeMaster: false): stays BACKUP, wants master, timer re-armed',
      backup({ timers: { master_down: NOW } }),
      EV.masterDown,
      backup({ wantsMaster: true, timers: { master_down: NOW + MDI_100 } }),
      [set('master_down', NOW + MDI_100)],
      { mayBecomeMaster: false },
    ],
    [
      'an accepted advert clears wantsMaster',
      backup({ wantsMaster: true }),
      advert(150),
      backup({ master: heard(150), timers: { master_down: NOW + MDI_100 } }),
      [set('master_down', NOW + MDI_100)],
    ],
    ['an advert for another VRID: ignored', backup(), { ...advertWithVrid(52) }, backup(), []],
    ['an advert of the other version: ignored', backup(), advert(150, PEER, 100, 2), backup(), []],
    [
      'shutdown → INIT: timer cancelled, VIPs released',
      backup({ master: heard(150) }),
      EV.shutdown,
      inst(),
      [cancel('master_down'), STOP, notify('STOP')],
    ],
    [
      'Adver_Timer in BACKUP (stale): ignored',
      backup({ timers: { advert: NOW } }),
      EV.advertTimer,
      backup({ timers: { advert: NOW } }),
      [],
    ],
  ]);
});

/** An advert event that arrived at `receivedAt` (the kernel's receive time on the step's clock). */
function arrived(event: VrrpEvent, receivedAt: number): VrrpEvent {
  return { ...event, receivedAt } as VrrpEvent;
}

describe('step: adverts read late count from their arrival (receivedAt)', () => {
  const heard = (priority: number, address = PEER) => ({ address, priority });
  check([
    [
      'BACKUP: Master_Down_Timer = arrival + Master_Down_Interval, not now + it',
      backup(),
      arrived(advert(150), NOW - 80),
      backup({ master: heard(150), timers: { master_down: NOW - 80 + MDI_100 } }),
      [set('master_down', NOW - 80 + MDI_100)],
    ],
    [
      'BACKUP: v3 at 10 cs, read 400 ms late: the deadline (arrival + 361 ms) is already past',
      backup({ params: { advertIntervalCs: 10 }, masterAdverIntervalCs: 10 }),
      arrived(advert(150, PEER, 10), NOW - 400),
      backup({
        params: { advertIntervalCs: 10 },
        masterAdverIntervalCs: 10,
        master: heard(150),
        timers: { master_down: NOW - 400 + 361 },
      }),
      [set('master_down', NOW - 39)],
    ],
    [
      'BACKUP, priority 0: Skew_Time counts from the arrival too',
      backup({ master: heard(150) }),
      arrived(advert(0), NOW - 100),
      backup({ master: null, timers: { master_down: NOW - 100 + SKEW_100 } }),
      [set('master_down', NOW - 100 + SKEW_100)],
    ],
    [
      'an arrival later than now (clock trouble) counts as now',
      backup(),
      arrived(advert(150), NOW + 500),
      backup({ master: heard(150), timers: { master_down: NOW + MDI_100 } }),
      [set('master_down', NOW + MDI_100)],
    ],
    [
      'a non-finite arrival counts as now',
      backup(),
      arrived(advert(150), Number.NaN),
      backup({ master: heard(150), timers: { master_down: NOW + MDI_100 } }),
      [set('master_down', NOW + MDI_100)],
    ],
    [
      'BACKUP, preempt_delay: the delay still starts now (only the master-down timer uses the arrival)',
      backup({ params: { preemptDelayMs: 5000 } }),
      arrived(advert(50), NOW - 80),
      backup({
        params: { preemptDelayMs: 5000 },
        master: heard(50),
        preemptDelay: 'running',
        timers: { master_down: NOW - 80 + MDI_100, preempt_delay: NOW + 5000 },
      }),
      [set('preempt_delay', NOW + 5000), set('master_down', NOW - 80 + MDI_100)],
    ],
    [
      'BACKUP, lower priority with preempt: still discarded, the timer untouched',
      backup(),
      arrived(advert(50), NOW - 80),
      backup({ master: heard(50) }),
      [],
    ],
    [
      'MASTER: the arrival changes nothing (priority 0 is answered now, the cadence kept)',
      master(),
      arrived(advert(0), NOW - 80),
      master(),
      [send(100)],
    ],
    [
      'MASTER: a higher-priority advert → BACKUP timed from now, as before',
      master(),
      arrived(advert(150), NOW - 80),
      inst({ state: 'BACKUP', master: heard(150), timers: { master_down: NOW + MDI_100 } }),
      [cancel('advert'), BECOME_BACKUP, set('master_down', NOW + MDI_100), notify('BACKUP')],
    ],
  ]);
});

function advertWithVrid(vrid: number): VrrpEvent {
  return {
    type: 'advert_received',
    advert: { version: 3, vrid, priority: 150, advertIntervalCs: 100, srcAddress: PEER, addresses: [] },
  };
}

describe('step: Master (RFC 5798 §6.4.3)', () => {
  check([
    [
      'Adver_Timer fires: advert, timer re-armed',
      master(),
      EV.advertTimer,
      master({ timers: { advert: NOW + 1000 } }),
      [send(100), set('advert', NOW + 1000)],
    ],
    [
      'Adver_Timer run 300 ms late: the next one keeps the cadence (deadline + interval)',
      master({ timers: { advert: NOW - 300 } }),
      EV.advertTimer,
      master({ timers: { advert: NOW + 700 } }),
      [send(100), set('advert', NOW + 700)],
    ],
    [
      'Adver_Timer run a whole interval late: the cadence starts again from now',
      master({ timers: { advert: NOW - 1000 } }),
      EV.advertTimer,
      master({ timers: { advert: NOW + 1000 } }),
      [send(100), set('advert', NOW + 1000)],
    ],
    [
      'a stale Adver_Timer: ignored',
      master({ timers: { advert: NOW + 5 } }),
      EV.advertTimer,
      master({ timers: { advert: NOW + 5 } }),
      [],
    ],
    [
      'higher priority advert → BACKUP: Adver_Timer cancelled, VIPs removed',
      master(),
      advert(150),
      backup({ master: { address: PEER, priority: 150 }, timers: { master_down: NOW + MDI_100 } }),
      [cancel('advert'), BECOME_BACKUP, set('master_down', NOW + MDI_100), notify('BACKUP')],
    ],
    [
      'higher priority advert (v3): the new master’s interval is learned (200 cs → 6000 + 1218.75 → 7219 ms)',
      master(),
      advert(150, PEER, 200),
      backup({
        master: { address: PEER, priority: 150 },
        masterAdverIntervalCs: 200,
        timers: { master_down: NOW + 7219 },
      }),
      [cancel('advert'), BECOME_BACKUP, set('master_down', NOW + 7219), notify('BACKUP')],
    ],
    [
      'equal priority from a higher primary address (192.0.2.20 > 192.0.2.10) → BACKUP',
      master(),
      advert(100, PEER),
      backup({ master: { address: PEER, priority: 100 }, timers: { master_down: NOW + MDI_100 } }),
      [cancel('advert'), BECOME_BACKUP, set('master_down', NOW + MDI_100), notify('BACKUP')],
    ],
    [
      'equal priority from a lower address, compared as bytes (192.0.2.9 < 192.0.2.10): stay, answer',
      master(),
      advert(100, '192.0.2.9'),
      master({ lastAnswerAt: NOW }),
      [send(100)],
    ],
    [
      'equal priority, address compared as unsigned bytes (203.0.113.1 > 192.0.2.10) → BACKUP',
      master(),
      advert(100, '203.0.113.1'),
      backup({ master: { address: '203.0.113.1', priority: 100 }, timers: { master_down: NOW + MDI_100 } }),
      [cancel('advert'), BECOME_BACKUP, set('master_down', NOW + MDI_100), notify('BACKUP')],
    ],
    [
      'lower priority advert (preempt): stay master, answer at once (keepalived)',
      master(),
      advert(50),
      master({ lastAnswerAt: NOW }),
      [send(100)],
    ],
    [
      'lower priority advert (preempt: false): the same — preempt only matters in BACKUP',
      master({ params: { preempt: false } }),
      advert(50),
      master({ params: { preempt: false }, lastAnswerAt: NOW }),
      [send(100)],
    ],
    [
      'priority 0 from another router: advert at once; the Adver_Timer keeps its cadence (sync group members stay in step)',
      master(),
      advert(0),
      master(),
      [send(100)],
    ],
    [
      'our own advert looped back (same priority, same address): ignored',
      master(),
      advert(100, PRIMARY),
      master(),
      [],
    ],
    [
      'owner (255) against another 255 from a higher address: the RFC tie-break → BACKUP',
      master({ params: { priority: 255 } }),
      advert(255, PEER),
      backup({
        params: { priority: 255 },
        master: { address: PEER, priority: 255 },
        timers: { master_down: NOW + 3004 },
      }),
      [cancel('advert'), BECOME_BACKUP, set('master_down', NOW + 3004), notify('BACKUP', 255)],
    ],
    [
      'shutdown → INIT: priority 0 first, then VIPs released',
      master(),
      EV.shutdown,
      inst(),
      [cancel('advert'), send(0), STOP, notify('STOP')],
    ],
    [
      'Master_Down_Timer in MASTER (stale): ignored',
      master({ timers: { master_down: NOW } }),
      EV.masterDown,
      master({ timers: { master_down: NOW } }),
      [],
    ],
  ]);
});

describe('step: preempt_delay (keepalived)', () => {
  const P = { preemptDelayMs: 30_000 };
  check([
    [
      'first lower-priority master: accepted, and the delay starts',
      backup({ params: P }),
      advert(50),
      backup({
        params: P,
        master: { address: PEER, priority: 50 },
        preemptDelay: 'running',
        timers: { master_down: NOW + MDI_100, preempt_delay: NOW + 30_000 },
      }),
      [set('preempt_delay', NOW + 30_000), set('master_down', NOW + MDI_100)],
    ],
    [
      'while the delay runs: lower-priority adverts keep being accepted',
      backup({ params: P, preemptDelay: 'running', timers: { preempt_delay: NOW + 5000 } }),
      advert(50),
      backup({
        params: P,
        master: { address: PEER, priority: 50 },
        preemptDelay: 'running',
        timers: { master_down: NOW + MDI_100, preempt_delay: NOW + 5000 },
      }),
      [set('master_down', NOW + MDI_100)],
    ],
    [
      'the delay expires: preemption allowed from now on',
      backup({ params: P, preemptDelay: 'running', timers: { preempt_delay: NOW } }),
      EV.preemptDelay,
      backup({ params: P, preemptDelay: 'passed', timers: { preempt_delay: null } }),
      [],
    ],
    [
      'a stale preempt_delay expiry: ignored',
      backup({ params: P, preemptDelay: 'running', timers: { preempt_delay: NOW + 10 } }),
      EV.preemptDelay,
      backup({ params: P, preemptDelay: 'running', timers: { preempt_delay: NOW + 10 } }),
      [],
    ],
    [
      'after the delay: a lower-priority advert is discarded (we preempt when the timer runs out)',
      backup({ params: P, preemptDelay: 'passed' }),
      advert(50),
      backup({ params: P, preemptDelay: 'passed', master: { address: PEER, priority: 50 } }),
      [],
    ],
    [
      'a master at least as good as us: the pending delay is cancelled',
      backup({ params: P, preemptDelay: 'running', timers: { preempt_delay: NOW + 5000 } }),
      advert(150),
      backup({ params: P, master: { address: PEER, priority: 150 }, timers: { master_down: NOW + MDI_100 } }),
      [cancel('preempt_delay'), set('master_down', NOW + MDI_100)],
    ],
    [
      'entering MASTER cancels a running delay',
      backup({ params: P, preemptDelay: 'running', timers: { master_down: NOW, preempt_delay: NOW + 5000 } }),
      EV.masterDown,
      master({ params: P, timers: { advert: NOW + 1000 } }),
      [
        cancel('master_down'),
        cancel('preempt_delay'),
        send(100),
        set('advert', NOW + 1000),
        BECOME_MASTER,
        notify('MASTER'),
      ],
    ],
  ]);
});

describe('step: FAULT (tracked interfaces, unweighted scripts)', () => {
  const fault = (faults: string[], patch: Patch = {}) => inst({ state: 'FAULT', faults, ...patch });
  check([
    [
      'BACKUP + fault → FAULT',
      backup(),
      EV.fault('interface eth1'),
      fault(['interface eth1']),
      [cancel('master_down'), BECOME_FAULT, notify('FAULT')],
    ],
    [
      'MASTER + fault → FAULT, priority 0 first so the backup takes over after Skew_Time',
      master(),
      EV.fault('script chk_web'),
      fault(['script chk_web']),
      [cancel('advert'), send(0), BECOME_FAULT, notify('FAULT')],
    ],
    [
      'the same fault twice: no-op',
      fault(['interface eth1']),
      EV.fault('interface eth1'),
      fault(['interface eth1']),
      [],
    ],
    [
      'a second fault while in FAULT: recorded',
      fault(['interface eth1']),
      EV.fault('script chk_web'),
      fault(['interface eth1', 'script chk_web']),
      [],
    ],
    [
      'one of two faults cleared: still FAULT',
      fault(['interface eth1', 'script chk_web']),
      EV.cleared('interface eth1'),
      fault(['script chk_web']),
      [],
    ],
    [
      'last fault cleared → BACKUP with a full Master_Down_Interval',
      fault(['interface eth1']),
      EV.cleared('interface eth1'),
      backup({ timers: { master_down: NOW + MDI_100 } }),
      [BECOME_BACKUP, set('master_down', NOW + MDI_100), notify('BACKUP')],
    ],
    [
      'last fault cleared on an address owner → MASTER',
      fault(['interface eth1'], { params: { priority: 255 } }),
      EV.cleared('interface eth1'),
      master({ params: { priority: 255 }, timers: { advert: NOW + 1000 } }),
      [send(255), set('advert', NOW + 1000), BECOME_MASTER, notify('MASTER', 255)],
    ],
    [
      'clearing a fault that is not there: no-op',
      fault(['interface eth1']),
      EV.cleared('eth9'),
      fault(['interface eth1']),
      [],
    ],
    ['adverts in FAULT: ignored', fault(['interface eth1']), advert(0), fault(['interface eth1']), []],
    [
      'a fault in INIT: recorded for startup',
      inst(),
      EV.fault('interface eth1'),
      inst({ faults: ['interface eth1'] }),
      [],
    ],
    [
      'shutdown in FAULT → INIT (faults kept: the trackers still say so)',
      fault(['interface eth1']),
      EV.shutdown,
      inst({ faults: ['interface eth1'] }),
      [STOP, notify('STOP')],
    ],
  ]);
});

describe('step: priority_changed (weighted track scripts)', () => {
  check([
    [
      'MASTER: the new priority is advertised at once',
      master(),
      EV.priority(80),
      master({
        effectivePriority: 80,
        master: { address: PRIMARY, priority: 80 },
        timers: { advert: NOW + 1000 },
      }),
      [send(80), set('advert', NOW + 1000)],
    ],
    [
      'BACKUP, higher: the running Master_Down_Timer shrinks by the skew difference (3610 → 3219)',
      backup({ timers: { master_down: NOW + 2000 } }),
      EV.priority(200),
      backup({ effectivePriority: 200, timers: { master_down: NOW + 2000 - (MDI_100 - 3219) } }),
      [set('master_down', NOW + 2000 - (MDI_100 - 3219))],
    ],
    [
      'BACKUP, lower: it grows (3610 → 3805)',
      backup({ timers: { master_down: NOW + 2000 } }),
      EV.priority(50),
      backup({ effectivePriority: 50, timers: { master_down: NOW + 2000 + (3805 - MDI_100) } }),
      [set('master_down', NOW + 2000 + (3805 - MDI_100))],
    ],
    [
      'BACKUP: never into the past',
      backup({ timers: { master_down: NOW + 100 } }),
      EV.priority(200),
      backup({ effectivePriority: 200, timers: { master_down: NOW } }),
      [set('master_down', NOW)],
    ],
    [
      'clamped to 254',
      backup(),
      EV.priority(300),
      backup({ effectivePriority: 254, timers: { master_down: NOW + 2000 - (MDI_100 - 3008) } }),
      [set('master_down', NOW + 2000 - (MDI_100 - 3008))],
    ],
    ['clamped to 1', inst(), EV.priority(-20), inst({ effectivePriority: 1 }), []],
    ['unchanged: no-op', master(), EV.priority(100), master(), []],
    [
      'an address owner keeps 255',
      master({ params: { priority: 255 } }),
      EV.priority(200),
      master({ params: { priority: 255 } }),
      [],
    ],
    [
      'FAULT: recorded, used when the fault clears',
      inst({ state: 'FAULT', faults: ['x'] }),
      EV.priority(120),
      inst({ state: 'FAULT', faults: ['x'], effectivePriority: 120 }),
      [],
    ],
  ]);
});

describe('step: force_backup (graceful handover, ipvsctl failover)', () => {
  check([
    [
      'MASTER → priority 0, then BACKUP; no preemption until master again',
      master(),
      EV.forceBackup,
      backup({ yielded: true, timers: { master_down: NOW + MDI_100 } }),
      [cancel('advert'), send(0), BECOME_BACKUP, set('master_down', NOW + MDI_100), notify('BACKUP')],
    ],
    [
      'yielded: a lower-priority master is accepted, not preempted',
      backup({ yielded: true }),
      advert(50),
      backup({
        yielded: true,
        master: { address: PEER, priority: 50 },
        timers: { master_down: NOW + MDI_100 },
      }),
      [set('master_down', NOW + MDI_100)],
    ],
    [
      'yielded: a priority-0 advert still makes us take over after Skew_Time',
      backup({ yielded: true }),
      advert(0),
      backup({ yielded: true, timers: { master_down: NOW + SKEW_100 } }),
      [set('master_down', NOW + SKEW_100)],
    ],
    [
      'yielded: with nobody else there the timer still runs out → MASTER (someone must hold the VIPs)',
      backup({ yielded: true, timers: { master_down: NOW } }),
      EV.masterDown,
      master({ timers: { advert: NOW + 1000 } }),
      [cancel('master_down'), send(100), set('advert', NOW + 1000), BECOME_MASTER, notify('MASTER')],
    ],
    [
      'BACKUP: stop preempting (a running preempt_delay is cancelled)',
      backup({
        params: { preemptDelayMs: 1000 },
        preemptDelay: 'running',
        timers: { preempt_delay: NOW + 500 },
      }),
      EV.forceBackup,
      backup({ params: { preemptDelayMs: 1000 }, yielded: true }),
      [cancel('preempt_delay')],
    ],
    ['INIT: ignored', inst(), EV.forceBackup, inst(), []],
  ]);
});

describe('step: sync group events', () => {
  check([
    [
      'sync_master on a BACKUP that wants master → MASTER',
      backup({ wantsMaster: true }),
      EV.syncMaster,
      master({ timers: { advert: NOW + 1000 } }),
      [cancel('master_down'), send(100), set('advert', NOW + 1000), BECOME_MASTER, notify('MASTER')],
    ],
    ['sync_master on a BACKUP that hears a master: ignored', backup(), EV.syncMaster, backup(), []],
    [
      'sync_backup on a MASTER → priority 0, then BACKUP (the peer takes the VIP over now)',
      master(),
      EV.syncBackup,
      backup({ timers: { master_down: NOW + MDI_100 } }),
      [cancel('advert'), send(0), BECOME_BACKUP, set('master_down', NOW + MDI_100), notify('BACKUP')],
    ],
    ['sync_backup on a BACKUP: ignored', backup(), EV.syncBackup, backup(), []],
  ]);

  it('an owner held by its group starts in BACKUP wanting master', () => {
    const owner = inst({ params: { priority: 255 } });
    expect(step(owner, EV.startup, NOW, { mayBecomeMaster: false })).toEqual({
      state: inst({
        params: { priority: 255 },
        state: 'BACKUP',
        wantsMaster: true,
        timers: { master_down: NOW + 3004 },
      }),
      actions: [BECOME_BACKUP, set('master_down', NOW + 3004), notify('BACKUP', 255)],
    });
  });
});

describe('helpers', () => {
  it.each([
    ['192.0.2.10', '192.0.2.9', 1],
    ['192.0.2.9', '192.0.2.10', -1],
    ['203.0.113.1', '192.0.2.200', 1],
    ['192.0.2.10', '192.0.2.10', 0],
    ['2001:db8::10', '2001:db8::9', 1],
    ['2001:db8::1', '2001:db8:0:0:0:0:0:1', 0],
    ['192.0.2.1', '2001:db8::1', 0],
    ['not an address', '192.0.2.1', 0],
  ])('compareAddresses(%s, %s) has the sign %i', (a, b, sign) => {
    expect(Math.sign(compareAddresses(a, b))).toBe(sign);
  });

  it.each([
    [100, -20, 80],
    [100, 0, 100],
    [100, 200, 254],
    [10, -50, 1],
    [255, -100, 255],
  ])('effectivePriority(%i, %i) = %i', (base, weights, expected) => {
    expect(effectivePriority(base, weights)).toBe(expected);
  });

  it('instanceParamsFromConfig takes what the machine needs', () => {
    const params = instanceParamsFromConfig(
      {
        name: 'VI_client',
        state: 'master',
        interface: 'eth0',
        virtualRouterId: 51,
        priority: 150,
        advertIntervalCs: 10,
        version: 3,
        preempt: false,
        preemptDelayMs: 5000,
        authentication: null,
        virtualIpaddresses: [],
        unicastSrcIp: null,
        unicastPeers: [],
        trackInterfaces: [],
        trackScripts: [],
        notify: { master: null, backup: null, fault: null },
        source: { line: 1, col: 1 },
      },
      '203.0.113.2',
    );
    expect(params).toEqual({
      name: 'VI_client',
      version: 3,
      virtualRouterId: 51,
      priority: 150,
      advertIntervalCs: 10,
      preempt: false,
      preemptDelayMs: 5000,
      initialState: 'master',
      primaryAddress: '203.0.113.2',
    });
  });
});
