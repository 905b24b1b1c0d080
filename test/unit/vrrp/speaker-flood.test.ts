/**
 * The speaker under a flood of lower-priority adverts, against fakes: the master answers at most
 * one per advert interval (the state machine's limit, test/unit/vrrp/answer-rate-limit.test.ts,
 * which cites keepalived), stays master, and reports the kernel's drops of its sockets by
 * interface and family, kept across a socket reopened on a re-created interface. Also the
 * optional takeover step hook (deps.onTakeoverStep), the injected replacement of the takeover
 * trace that was read from the environment.
 */
import { describe, expect, it, vi } from 'vitest';
import { advertBytes } from '../../support/vrrp-advert.js';
import {
  createFakeNode,
  type FakeLink,
  type FakeNode,
  fakeLinkPerTest,
  instanceYaml,
} from './speaker-harness.js';

const A = '203.0.113.2';
const B = '203.0.113.3';

const lowerAdvert = (priority: number): Uint8Array =>
  advertBytes(B, { version: 2, vrid: 51, priority, advertIntervalCs: 100, addresses: ['203.0.113.100'] });

describe('VRRP speaker under a flood of lower-priority adverts', () => {
  let link: FakeLink;
  const started = fakeLinkPerTest((fresh) => {
    link = fresh;
  });

  async function master(): Promise<FakeNode> {
    const a = createFakeNode(link, 'a', { eth0: A }, `vrrp_instances:${instanceYaml({ priority: 200 })}`);
    await a.speaker.start();
    started.push(a);
    await vi.advanceTimersByTimeAsync(4000);
    expect(a.speaker.status().instances[0]?.state).toBe('MASTER');
    return a;
  }

  it('answers at most once per advert interval and stays master', async () => {
    const a = await master();
    const sentBefore = a.speaker.status().instances[0]?.adverts.sent ?? 0;
    // 10 s of 100 lower-priority adverts per 10 ms: 100,000 adverts.
    for (let t = 0; t < 1000; t++) {
      for (let i = 0; i < 100; i++) link.inject('eth0', lowerAdvert(100), B);
      await vi.advanceTimersByTimeAsync(10);
    }
    const s = a.speaker.status().instances[0];
    expect(s?.state).toBe('MASTER');
    expect(s?.transitions).toBe(2);
    expect(s?.adverts.received).toBe(100_000);
    // 10 periodic adverts and at most 10 answers (unlimited, it would be 100,010).
    const sent = (s?.adverts.sent ?? 0) - sentBefore;
    expect(sent).toBeGreaterThanOrEqual(10);
    expect(sent).toBeLessThanOrEqual(21);
  });

  it('reports the kernel drops of its sockets, kept across a reopened socket', async () => {
    const a = await master();
    expect(a.speaker.status().sockets).toEqual([{ interface: 'eth0', family: 'inet', drops: 0 }]);
    const socket = () => link.members.filter((m) => m.node === a && !m.closed);
    expect(socket()).toHaveLength(1);
    const first = socket()[0];
    if (first === undefined) throw new Error('no socket');
    first.drops = 46;
    expect(a.speaker.status().sockets).toEqual([{ interface: 'eth0', family: 'inet', drops: 46 }]);
    // The interface is re-created (new index): a new socket, whose count starts at 0.
    a.links.set('eth0', true, 7);
    await vi.advanceTimersByTimeAsync(10);
    const second = socket()[0];
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    if (second !== undefined) second.drops = 4;
    expect(a.speaker.status().sockets).toEqual([{ interface: 'eth0', family: 'inet', drops: 50 }]);
  });
});

describe('VRRP speaker: the takeover step hook', () => {
  let link: FakeLink;
  const started = fakeLinkPerTest((fresh) => {
    link = fresh;
  });

  it('is told each step of a takeover, in order, on the speaker clock', async () => {
    const steps: [string, string, number][] = [];
    const a = createFakeNode(link, 'a', { eth0: A }, `vrrp_instances:${instanceYaml({ priority: 200 })}`, {
      onTakeoverStep: (step, instance, at) => {
        steps.push([step, instance, at]);
        if (step === 'vips_sent') throw new Error('a throwing hook is logged, not propagated');
      },
    });
    await a.speaker.start();
    started.push(a);
    expect(steps).toEqual([]);
    await vi.advanceTimersByTimeAsync(4000);
    expect(a.speaker.status().instances[0]?.state).toBe('MASTER');
    expect(a.vips()).toEqual(['203.0.113.100/24']);
    expect(steps.map(([step, instance]) => [step, instance])).toEqual([
      ['master_down_expired', 'VI_1'],
      ['became_master', 'VI_1'],
      ['vips_sent', 'VI_1'],
      ['announced', 'VI_1'],
    ]);
    const times = steps.map(([, , at]) => at);
    expect(times).toEqual([...times].sort((x, y) => x - y));
  });
});
