/**
 * The master's answers to lower-priority adverts are rate-limited: at most one per
 * Advertisement_Interval per instance (src/vrrp/state-machine.ts, masterReceives). RFC 5798
 * §6.4.3 has a master discard a lower-priority advert; answering is keepalived's addition, and
 * keepalived answers every one: keepalived/vrrp/vrrp.c, vrrp_state_master_rx() (acassen/keepalived
 * at 9cbce3e2117fd7dfbddf3cd4c45dad6283189176) calls `vrrp_send_adv(vrrp, vrrp->effective_priority)`
 * for each advert with `hd->priority < vrrp->effective_priority` unless `lower_prio_no_advert` is
 * set (the default only under `vrrp_strict`), with no limit in vrrp.c or vrrp_scheduler.c. So a
 * flood of forged lower-priority adverts is reflected one for one; here it costs at most one
 * extra advert per interval. Priority-0 adverts keep their immediate, unlimited answer: a backup
 * that heard one takes over after Skew_Time unless the master speaks after it.
 *
 * The clock is a number passed to step(): each row is (state, event at time t) → actions.
 */
import { describe, expect, it } from 'vitest';
import { createInstanceState, type InstanceState, step } from '../../../src/vrrp/state-machine.js';
import type { VrrpAction, VrrpEvent } from '../../../src/vrrp/types.js';

const PRIMARY = '192.0.2.10';
const PEER = '192.0.2.20';
const T0 = 50_000;

function master(advertIntervalCs: number, lastAnswerAt: number | null = null): InstanceState {
  const base = createInstanceState({
    name: 'VI_1',
    version: 3,
    virtualRouterId: 51,
    priority: 100,
    advertIntervalCs,
    preempt: true,
    preemptDelayMs: 0,
    initialState: 'backup',
    primaryAddress: PRIMARY,
  });
  return {
    ...base,
    state: 'MASTER',
    master: { address: PRIMARY, priority: 100 },
    timers: { ...base.timers, advert: T0 + 10_000 },
    lastAnswerAt,
  };
}

const backup = (): InstanceState => ({
  ...master(100),
  state: 'BACKUP',
  master: { address: PEER, priority: 150 },
  timers: { advert: null, master_down: T0 + 3_000, preempt_delay: null },
});

function advert(priority: number, advertIntervalCs = 100): VrrpEvent {
  return {
    type: 'advert_received',
    advert: {
      version: 3,
      vrid: 51,
      priority,
      advertIntervalCs,
      srcAddress: PEER,
      addresses: ['203.0.113.100'],
    },
  };
}

const ANSWER: VrrpAction = { type: 'send_advert', priority: 100 };

/** [title, state before, event, now, actions, lastAnswerAt after] */
type Row = [string, InstanceState, VrrpEvent, number, VrrpAction[], number | null];

describe('answers to lower-priority adverts: at most one per advert interval', () => {
  const rows: Row[] = [
    ['MASTER, never answered: answer at once', master(100), advert(50), T0, [ANSWER], T0],
    ['MASTER, answered 1 ms ago: no answer', master(100, T0 - 1), advert(50), T0, [], T0 - 1],
    [
      'MASTER, answered 999 ms ago (1 s interval): no answer',
      master(100, T0 - 999),
      advert(50),
      T0,
      [],
      T0 - 999,
    ],
    [
      'MASTER, answered exactly one interval ago: answer',
      master(100, T0 - 1000),
      advert(50),
      T0,
      [ANSWER],
      T0,
    ],
    ['MASTER, answered long ago: answer', master(100, T0 - 60_000), advert(50), T0, [ANSWER], T0],
    [
      'MASTER at 100 ms (v3), answered 99 ms ago: no answer',
      master(10, T0 - 99),
      advert(50, 10),
      T0,
      [],
      T0 - 99,
    ],
    [
      'MASTER at 100 ms (v3), answered 100 ms ago: answer',
      master(10, T0 - 100),
      advert(50, 10),
      T0,
      [ANSWER],
      T0,
    ],
    [
      'MASTER, answered just now, priority 0 heard: answered all the same',
      master(100, T0),
      advert(0),
      T0,
      [ANSWER],
      T0,
    ],
    [
      'BACKUP hears a lower priority: never answers (preempts by its timer)',
      backup(),
      advert(50),
      T0,
      [],
      null,
    ],
  ];

  it.each(rows)('%s', (_title, before, event, now, actions, lastAnswerAt) => {
    const result = step(before, event, now);
    expect(result.actions).toEqual(actions);
    expect(result.state.state).toBe(before.state);
    expect(result.state.lastAnswerAt).toBe(lastAnswerAt);
  });

  it('a higher-priority advert right after an answer still makes the master step down', () => {
    const result = step(master(100, T0), advert(200), T0);
    expect(result.state.state).toBe('BACKUP');
    expect(result.actions).toContainEqual({ type: 'become_backup' });
  });

  it('a flood of 4,000 lower-priority adverts in 0.23 s gets one answer; a steady one, one per interval', () => {
    const answers = (intervalCs: number, count: number, spacingMs: number): number => {
      let s = master(intervalCs);
      let sent = 0;
      for (let i = 0; i < count; i++) {
        const r = step(s, advert(50, intervalCs), T0 + i * spacingMs);
        sent += r.actions.filter((a) => a.type === 'send_advert').length;
        s = r.state;
        expect(s.state).toBe('MASTER');
      }
      return sent;
    };
    // The flood: 3,965 answers in 0.23 s before the limit.
    expect(answers(100, 4000, 230 / 4000)).toBe(1);
    // Ten seconds of one advert per ms at a 1 s interval: 10 answers; at 100 ms: 100.
    expect(answers(100, 10_000, 1)).toBe(10);
    expect(answers(10, 10_000, 1)).toBe(100);
  });

  it('the periodic adverts are not limited by the answers', () => {
    const s = master(100, T0);
    const r = step({ ...s, timers: { ...s.timers, advert: T0 } }, { type: 'advert_timer_expired' }, T0);
    expect(r.actions).toContainEqual(ANSWER);
  });
});
