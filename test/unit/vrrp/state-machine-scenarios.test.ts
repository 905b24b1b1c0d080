/**
 * Routers on one simulated link, each a pure state machine: adverts reach the others 1 ms after
 * they are sent, timers fire at their deadlines. The checks are the RFC's end-to-end promises:
 * who ends up master, and when.
 */
import { describe, expect, it } from 'vitest';
import {
  createInstanceState,
  type InstanceParams,
  type InstanceState,
  step,
} from '../../../src/vrrp/state-machine.js';
import { timerEvent } from '../../../src/vrrp/timers.js';
import type { TimerKind, VrrpEvent, VrrpState } from '../../../src/vrrp/types.js';

const LATENCY_MS = 1;

interface Router {
  state: InstanceState;
  /** Up: sends and receives. Down: crashed (no adverts, no timers). */
  up: boolean;
  transitions: [number, VrrpState][];
}

function params(
  name: string,
  address: string,
  priority: number,
  extra: Partial<InstanceParams> = {},
): InstanceParams {
  return {
    name,
    version: 3,
    virtualRouterId: 51,
    priority,
    advertIntervalCs: 100,
    preempt: true,
    preemptDelayMs: 0,
    initialState: 'backup',
    primaryAddress: address,
    ...extra,
  };
}

class Link {
  now = 0;
  readonly routers = new Map<string, Router>();
  private deliveries: { at: number; to: string; event: VrrpEvent }[] = [];

  add(p: InstanceParams): this {
    this.routers.set(p.name, { state: createInstanceState(p), up: true, transitions: [] });
    return this;
  }

  /** Delivers an event to one router now and carries out its actions. */
  deliver(name: string, event: VrrpEvent): void {
    const router = this.routers.get(name);
    if (router === undefined || !router.up) return;
    const before = router.state.state;
    const { state, actions } = step(router.state, event, this.now);
    router.state = state;
    if (state.state !== before) router.transitions.push([this.now, state.state]);
    for (const action of actions) {
      if (action.type !== 'send_advert') continue;
      for (const [other, r] of this.routers) {
        if (other === name || !r.up) continue;
        const advert = {
          version: state.params.version,
          vrid: state.params.virtualRouterId,
          priority: action.priority,
          advertIntervalCs: state.params.advertIntervalCs,
          srcAddress: state.params.primaryAddress,
          addresses: ['203.0.113.100'],
        };
        this.deliveries.push({
          at: this.now + LATENCY_MS,
          to: other,
          event: { type: 'advert_received', advert },
        });
      }
    }
  }

  /** Crash: no priority 0, nothing more from this router. */
  kill(name: string): void {
    const router = this.routers.get(name);
    if (router !== undefined) router.up = false;
  }

  runUntil(end: number): void {
    for (let guard = 0; ; guard++) {
      if (guard > 100_000) throw new Error(`no progress at ${this.now}`);
      let next: { at: number; run: () => void } | undefined;
      const consider = (at: number, run: () => void) => {
        if (at <= end && (next === undefined || at < next.at)) next = { at, run };
      };
      this.deliveries.forEach((d, i) => {
        consider(d.at, () => {
          this.deliveries.splice(i, 1);
          this.deliver(d.to, d.event);
        });
      });
      for (const [name, router] of this.routers) {
        if (!router.up) continue;
        for (const kind of Object.keys(router.state.timers) as TimerKind[]) {
          const at = router.state.timers[kind];
          if (at !== null) consider(at, () => this.deliver(name, timerEvent(kind)));
        }
      }
      if (next === undefined) break;
      this.now = Math.max(this.now, next.at);
      next.run();
    }
    this.now = end;
  }

  stateOf(name: string): VrrpState {
    return this.routers.get(name)?.state.state ?? 'INIT';
  }

  lastTransition(name: string): [number, VrrpState] | undefined {
    return this.routers.get(name)?.transitions.at(-1);
  }
}

describe('VRRP on a simulated link', () => {
  it('election: the higher priority wins; the other stays backup', () => {
    const link = new Link().add(params('A', '192.0.2.1', 200)).add(params('B', '192.0.2.2', 100));
    link.deliver('A', { type: 'startup' });
    link.deliver('B', { type: 'startup' });
    link.runUntil(20_000);
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['MASTER', 'BACKUP']);
    // A's Master_Down_Interval at priority 200: 3000 + 218.75 → 3219 ms.
    expect(link.lastTransition('A')).toEqual([3219, 'MASTER']);
  });

  it('equal priority: the higher primary address wins, whoever got there first', () => {
    const link = new Link().add(params('A', '192.0.2.9', 100)).add(params('B', '192.0.2.10', 100));
    link.deliver('A', { type: 'startup' });
    link.runUntil(5000); // A alone: master at 3610
    link.deliver('B', { type: 'startup' });
    link.runUntil(20_000);
    // B hears A's equal-priority adverts as a backup and accepts them; both keep their roles.
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['MASTER', 'BACKUP']);
    // If both claim mastership at once (a healed partition), the byte-wise higher address keeps it.
    const split = new Link().add(params('A', '192.0.2.9', 100)).add(params('B', '192.0.2.10', 100));
    split.deliver('A', { type: 'startup' });
    split.deliver('B', { type: 'startup' });
    split.runUntil(20_000);
    expect([split.stateOf('A'), split.stateOf('B')]).toEqual(['BACKUP', 'MASTER']);
  });

  it('master crash: the backup takes over Master_Down_Interval after the last advert', () => {
    const link = new Link().add(params('A', '192.0.2.1', 200)).add(params('B', '192.0.2.2', 100));
    link.deliver('A', { type: 'startup' });
    link.deliver('B', { type: 'startup' });
    link.runUntil(10_000); // A master since 3219; adverts at 4219, …, 9219
    link.kill('A');
    link.runUntil(30_000);
    expect(link.stateOf('B')).toBe('MASTER');
    // Last advert received at 9220; B's Master_Down_Interval is 3610 ms.
    expect(link.lastTransition('B')).toEqual([9220 + 3610, 'MASTER']);
  });

  it('graceful stop: priority 0, the backup takes over after Skew_Time only', () => {
    const link = new Link().add(params('A', '192.0.2.1', 200)).add(params('B', '192.0.2.2', 100));
    link.deliver('A', { type: 'startup' });
    link.deliver('B', { type: 'startup' });
    link.runUntil(10_000);
    link.deliver('A', { type: 'shutdown' });
    link.runUntil(30_000);
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['INIT', 'MASTER']);
    expect(link.lastTransition('B')).toEqual([10_000 + 1 + 610, 'MASTER']);
  });

  it('three routers, master stops: the highest remaining backup goes first (shortest skew)', () => {
    const link = new Link()
      .add(params('A', '192.0.2.1', 250))
      .add(params('B', '192.0.2.2', 150))
      .add(params('C', '192.0.2.3', 100));
    for (const r of ['A', 'B', 'C']) link.deliver(r, { type: 'startup' });
    link.runUntil(10_000);
    link.deliver('A', { type: 'shutdown' });
    link.runUntil(30_000);
    expect([link.stateOf('B'), link.stateOf('C')]).toEqual(['MASTER', 'BACKUP']);
    // B's skew: 106 × 1000 / 256 = 414.0625 → 415 ms; C's would be 610 ms.
    expect(link.lastTransition('B')).toEqual([10_001 + 415, 'MASTER']);
    expect(link.routers.get('C')?.transitions).toEqual([[0, 'BACKUP']]);
  });

  it('preemption: a higher-priority router that comes back takes over', () => {
    const link = new Link().add(params('A', '192.0.2.1', 200)).add(params('B', '192.0.2.2', 100));
    link.deliver('B', { type: 'startup' });
    link.runUntil(10_000); // B master since 3610
    link.deliver('A', { type: 'startup' });
    link.runUntil(30_000);
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['MASTER', 'BACKUP']);
    // A discards B's lower adverts, so its own timer runs out: 10000 + 3219.
    expect(link.lastTransition('A')).toEqual([13_219, 'MASTER']);
  });

  it('preempt: false: the higher-priority router that comes back stays backup', () => {
    const link = new Link()
      .add(params('A', '192.0.2.1', 200, { preempt: false }))
      .add(params('B', '192.0.2.2', 100));
    link.deliver('B', { type: 'startup' });
    link.runUntil(10_000);
    link.deliver('A', { type: 'startup' });
    link.runUntil(60_000);
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['BACKUP', 'MASTER']);
  });

  it('preempt_delay: preemption waits for the delay after startup', () => {
    const link = new Link()
      .add(params('A', '192.0.2.1', 200, { preemptDelayMs: 20_000 }))
      .add(params('B', '192.0.2.2', 100));
    link.deliver('B', { type: 'startup' });
    link.runUntil(10_000);
    link.deliver('A', { type: 'startup' });
    link.runUntil(29_000);
    expect(link.stateOf('A')).toBe('BACKUP');
    link.runUntil(60_000);
    expect(link.stateOf('A')).toBe('MASTER');
    // The delay passes at 30000; B's next advert (30611) is discarded; the timer set by the last
    // accepted one (29611 + 3219) runs out.
    expect(link.lastTransition('A')).toEqual([29_611 + 3219, 'MASTER']);
  });

  it('graceful handover (force_backup) sticks: the higher-priority router does not take it back', () => {
    const link = new Link().add(params('A', '192.0.2.1', 200)).add(params('B', '192.0.2.2', 100));
    link.deliver('A', { type: 'startup' });
    link.deliver('B', { type: 'startup' });
    link.runUntil(10_000);
    link.deliver('A', { type: 'force_backup' });
    link.runUntil(60_000);
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['BACKUP', 'MASTER']);
    expect(link.lastTransition('B')).toEqual([10_611, 'MASTER']);
    // And back: a handover from B returns mastership to A after A's skew.
    link.deliver('B', { type: 'force_backup' });
    link.runUntil(90_000);
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['MASTER', 'BACKUP']);
    expect(link.lastTransition('A')).toEqual([60_000 + 1 + 219, 'MASTER']);
  });

  it('a weighted script drops the master below the backup: the backup preempts', () => {
    const link = new Link().add(params('A', '192.0.2.1', 110)).add(params('B', '192.0.2.2', 100));
    link.deliver('A', { type: 'startup' });
    link.deliver('B', { type: 'startup' });
    link.runUntil(10_000);
    expect(link.stateOf('A')).toBe('MASTER');
    link.deliver('A', { type: 'priority_changed', priority: 90 });
    link.runUntil(30_000);
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['BACKUP', 'MASTER']);
  });

  it('a tracked interface fails on the master: FAULT, priority 0, the backup takes over after Skew_Time', () => {
    const link = new Link().add(params('A', '192.0.2.1', 200)).add(params('B', '192.0.2.2', 100));
    link.deliver('A', { type: 'startup' });
    link.deliver('B', { type: 'startup' });
    link.runUntil(10_000);
    link.deliver('A', { type: 'fault', reason: 'interface eth1' });
    link.runUntil(20_000);
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['FAULT', 'MASTER']);
    expect(link.lastTransition('B')).toEqual([10_611, 'MASTER']);
    link.deliver('A', { type: 'fault_cleared', reason: 'interface eth1' });
    link.runUntil(40_000);
    expect([link.stateOf('A'), link.stateOf('B')]).toEqual(['MASTER', 'BACKUP']);
  });

  it('v3 at 100 ms adverts: a crash is noticed in 361 ms', () => {
    const fast = { advertIntervalCs: 10 };
    const link = new Link().add(params('A', '192.0.2.1', 200, fast)).add(params('B', '192.0.2.2', 100, fast));
    link.deliver('A', { type: 'startup' });
    link.deliver('B', { type: 'startup' });
    link.runUntil(5000);
    link.kill('A');
    link.runUntil(10_000);
    const [at, state] = link.lastTransition('B') ?? [0, 'INIT'];
    expect(state).toBe('MASTER');
    // A's adverts went out every 100 ms from its takeover at 322 (300 + 21.875 → 322): the last
    // before 5000 at 4922, received at 4923.
    expect(at).toBe(4923 + 361);
  });
});
