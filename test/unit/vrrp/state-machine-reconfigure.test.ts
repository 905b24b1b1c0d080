/** The `reconfigure` event (a reload's in-place update) as a table: no re-election, new settings kept. */
import { describe, expect, it } from 'vitest';
import { createInstanceState, type InstanceParams, step } from '../../../src/vrrp/state-machine.js';

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
  primaryAddress: '192.0.2.10',
};

describe('reconfigure', () => {
  it('identical settings: nothing happens', () => {
    const s = { ...createInstanceState(PARAMS), state: 'MASTER' as const };
    expect(step(s, { type: 'reconfigure', params: { ...PARAMS } }, NOW)).toEqual({ state: s, actions: [] });
  });

  it('a master stays master, announces at once and keeps the new interval', () => {
    const s = {
      ...createInstanceState(PARAMS),
      state: 'MASTER' as const,
      timers: { advert: NOW + 500, master_down: null, preempt_delay: null },
    };
    const r = step(
      s,
      { type: 'reconfigure', params: { ...PARAMS, advertIntervalCs: 200, priority: 120 } },
      NOW,
    );
    expect(r.state.state).toBe('MASTER');
    expect(r.state.params.advertIntervalCs).toBe(200);
    expect(r.state.masterAdverIntervalCs).toBe(200);
    // The configured priority moves through priority_changed, not here.
    expect(r.state.effectivePriority).toBe(100);
    expect(r.actions).toEqual([
      { type: 'send_advert', priority: 100 },
      { type: 'set_timer', kind: 'advert', at: NOW + 2000 },
    ]);
    const p = step(r.state, { type: 'priority_changed', priority: 120 }, NOW);
    expect(p.state.effectivePriority).toBe(120);
    expect(p.actions[0]).toEqual({ type: 'send_advert', priority: 120 });
  });

  it('a backup keeps its master-down timer; preempt turned off cancels a running preempt delay', () => {
    const s = {
      ...createInstanceState({ ...PARAMS, preemptDelayMs: 5000 }),
      state: 'BACKUP' as const,
      preemptDelay: 'running' as const,
      timers: { advert: null, master_down: NOW + 3000, preempt_delay: NOW + 4000 },
    };
    const r = step(
      s,
      { type: 'reconfigure', params: { ...PARAMS, preemptDelayMs: 5000, preempt: false } },
      NOW,
    );
    expect(r.state.state).toBe('BACKUP');
    expect(r.state.preemptDelay).toBe('idle');
    expect(r.state.timers).toEqual({ advert: null, master_down: NOW + 3000, preempt_delay: null });
    expect(r.actions).toEqual([{ type: 'cancel_timer', kind: 'preempt_delay' }]);
  });

  it('v2 backup: the master interval is ours (the codec drops any other)', () => {
    const v2 = { ...PARAMS, version: 2 as const };
    const s = { ...createInstanceState(v2), state: 'BACKUP' as const };
    const r = step(s, { type: 'reconfigure', params: { ...v2, advertIntervalCs: 300 } }, NOW);
    expect(r.state.masterAdverIntervalCs).toBe(300);
  });
});
