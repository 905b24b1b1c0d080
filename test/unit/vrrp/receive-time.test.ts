/**
 * Received adverts time the master-down timer from their kernel receive time: the clock
 * conversion (receive-time.ts, pure) and the speaker using it (fake link, fake timers, a wall
 * clock offset from the monotonic one so that a stamp used without conversion would show).
 */
import { describe, expect, it, vi } from 'vitest';
import {
  CLOCK_STEP_MS,
  createArrivalClock,
  MAX_PACKET_AGE_MS,
  packetArrivalTime,
} from '../../../src/vrrp/receive-time.js';
import { advertBytes } from '../../support/vrrp-advert.js';
import {
  createFakeNode,
  type FakeLink,
  type FakeNode,
  fakeLinkPerTest,
  instanceYaml,
} from './speaker-harness.js';

describe('packetArrivalTime: kernel wall-clock stamp → monotonic arrival', () => {
  const WALL = 1_790_000_000_000.25;
  const MONO = 52_000.5;
  it.each([
    ['80 ms old', WALL - 80, MONO - 80],
    ['fractional age', WALL - 0.125, MONO - 0.125],
    ['now', WALL, MONO],
    ['slightly in the future (Date.now() is truncated): age 0', WALL + 0.7, MONO],
    ['far in the future (clock stepped back): age 0', WALL + 3_600_000, MONO],
    ['exactly the largest believed age', WALL - MAX_PACKET_AGE_MS, MONO - MAX_PACKET_AGE_MS],
    ['older than that (clock stepped forward): unknown, so now', WALL - MAX_PACKET_AGE_MS - 1, MONO],
    ['unknown', undefined, MONO],
    ['NaN', Number.NaN, MONO],
    ['infinite', Number.NEGATIVE_INFINITY, MONO],
  ] as const)('%s', (_title, stamp, expected) => {
    expect(packetArrivalTime(stamp, WALL, MONO)).toBe(expected);
  });

  it('is never later than the monotonic now', () => {
    for (const stamp of [WALL - 5000, WALL - 1, WALL, WALL + 1, undefined]) {
      expect(packetArrivalTime(stamp, WALL, MONO)).toBeLessThanOrEqual(MONO);
    }
  });
});

describe('createArrivalClock: a wall-clock step between two packets is not believed', () => {
  // The two clocks as a test drives them: the wall clock runs `offset` ahead of the monotonic one.
  function clocks() {
    const c = { mono: 10_000, offset: 1_790_000_000_000 };
    return {
      c,
      clock: createArrivalClock(
        () => c.mono,
        () => c.mono + c.offset,
      ),
    };
  }

  it('stamps are believed while the offset between the clocks holds (slewing included)', () => {
    const { c, clock } = clocks();
    expect(clock.read(c.mono + c.offset - 30)).toEqual({ now: 10_000, arrival: 9_970 });
    c.mono += 1000;
    c.offset += 0.5; // NTP slewing: at most 0.5 ms per second
    expect(clock.read(c.mono + c.offset - 40)).toEqual({ now: 11_000, arrival: 10_960 });
  });

  it('a forward step between stamp and read: the packet counts as arriving now, the next one is believed', () => {
    const { c, clock } = clocks();
    clock.read(c.mono + c.offset);
    c.mono += 100;
    const stamp = c.mono + c.offset - 5; // stamped on the old clock
    c.offset += 500; // then the clock steps 500 ms forward before the read
    expect(clock.read(stamp).arrival).toBe(c.mono);
    c.mono += 100;
    expect(clock.read(c.mono + c.offset - 5).arrival).toBe(c.mono - 5);
  });

  it('an offset change of exactly CLOCK_STEP_MS is still believed; one more ms is a step', () => {
    const { c, clock } = clocks();
    clock.read(undefined);
    c.offset += CLOCK_STEP_MS;
    expect(clock.read(c.mono + c.offset - 50).arrival).toBe(c.mono - 50);
    c.offset += CLOCK_STEP_MS + 1;
    expect(clock.read(c.mono + c.offset - 50).arrival).toBe(c.mono);
  });
});

const A = '203.0.113.2';
const B = '203.0.113.3';
// The wall clock runs this far ahead of the monotonic one (Date.now() under fake timers).
const WALL_OFFSET = 1_700_000_000_000;

describe('VRRP speaker: the master-down timer runs from the advert’s arrival', () => {
  let link: FakeLink;
  const started = fakeLinkPerTest((fresh) => {
    link = fresh;
  });

  const wall = () => Date.now() + WALL_OFFSET;
  const state = (node: FakeNode) => node.speaker.status().instances[0]?.state;
  const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

  async function backup(version: 2 | 3, interval: string): Promise<FakeNode> {
    const yaml = `vrrp_instances:${instanceYaml({ priority: 100, version, interval })}`;
    const node = createFakeNode(link, 'a', { eth0: A }, yaml, { wallClock: wall });
    await node.speaker.start();
    started.push(node);
    return node;
  }

  const advert = (version: 2 | 3, intervalCs: number): Uint8Array =>
    advertBytes(B, {
      version,
      vrid: 51,
      priority: 200,
      advertIntervalCs: intervalCs,
      addresses: ['203.0.113.100'],
    });

  // v2 at 1 s, priority 100: Master_Down_Interval 3610 ms.
  it('an advert that arrived 300 ms before it was read: takeover 3610 ms after the arrival', async () => {
    const a = await backup(2, '1s');
    link.inject('eth0', advert(2, 100), B, { receivedAt: wall() - 300 });
    await advance(3610 - 300 - 1);
    expect(state(a)).toBe('BACKUP');
    await advance(2);
    expect(state(a)).toBe('MASTER');
  });

  it('without a timestamp: 3610 ms after it was read, as before', async () => {
    const a = await backup(2, '1s');
    link.inject('eth0', advert(2, 100), B);
    await advance(3610 - 1);
    expect(state(a)).toBe('BACKUP');
    await advance(2);
    expect(state(a)).toBe('MASTER');
  });

  it('an implausible age (a clock step) is ignored: timed from the read', async () => {
    const a = await backup(2, '1s');
    link.inject('eth0', advert(2, 100), B, { receivedAt: wall() - 3_000_000 });
    await advance(3610 - 1);
    expect(state(a)).toBe('BACKUP');
    await advance(2);
    expect(state(a)).toBe('MASTER');
  });

  it('v3 at 100 ms: an advert read 400 ms after it arrived leaves a past deadline, so the timer fires at once', async () => {
    const a = await backup(3, '100ms');
    // The master's adverts keep the backup waiting.
    for (let i = 0; i < 5; i++) {
      link.inject('eth0', advert(3, 10), B, { receivedAt: wall() });
      await advance(100);
    }
    expect(state(a)).toBe('BACKUP');
    // Master_Down_Interval 361 ms; this advert is already 400 ms old when read.
    link.inject('eth0', advert(3, 10), B, { receivedAt: wall() - 400 });
    await advance(1);
    expect(state(a)).toBe('MASTER');
  });

  it('adverts read in a burst: the latest arrival sets the deadline', async () => {
    const a = await backup(2, '1s');
    const now = wall();
    link.inject('eth0', advert(2, 100), B, { receivedAt: now - 1900 });
    link.inject('eth0', advert(2, 100), B, { receivedAt: now - 900 });
    await advance(3610 - 900 - 1);
    expect(state(a)).toBe('BACKUP');
    await advance(2);
    expect(state(a)).toBe('MASTER');
  });

  it('before declaring the master down, adverts still queued in the kernel are read (a stalled loop)', async () => {
    const a = await backup(2, '1s');
    link.inject('eth0', advert(2, 100), B, { receivedAt: wall() });
    await advance(3000);
    // The event loop does not get to poll: the next advert waits in the socket's queue.
    link.hold(true);
    link.inject('eth0', advert(2, 100), B, { receivedAt: wall() });
    // Past the first advert's deadline (3610 ms): the timer fires, reads the queue first, and the
    // queued advert (3000 ms later) moves the deadline on.
    await advance(700);
    expect(state(a)).toBe('BACKUP');
    expect(a.speaker.status().instances[0]?.adverts.received).toBe(2);
    link.hold(false);
    await advance(3610 - 700 - 1);
    expect(state(a)).toBe('BACKUP');
    await advance(2);
    expect(state(a)).toBe('MASTER');
  });

  it('an advert read from the queue at the deadline counts from its arrival, not from that read', async () => {
    const a = await backup(3, '100ms');
    link.inject('eth0', advert(3, 10), B, { receivedAt: wall() });
    await advance(50);
    link.hold(true);
    // Arrived 50 ms after the first, then the master fell silent: read when the first advert's
    // deadline (361 ms) passes, it holds the takeover to its own arrival + 361 ms = 411 ms.
    link.inject('eth0', advert(3, 10), B, { receivedAt: wall() });
    await advance(360);
    expect(state(a)).toBe('BACKUP');
    await advance(1);
    expect(state(a)).toBe('MASTER');
    expect(a.speaker.status().instances[0]?.adverts.received).toBe(2);
    link.hold(false);
  });
});
