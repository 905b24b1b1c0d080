import { describe, expect, it } from 'vitest';
import { createTimerQueue, type TimedItem } from '../../../src/check/timer-queue.js';
import { fakeClock } from './fixtures.js';

interface Item extends TimedItem {
  readonly name: string;
}
const item = (name: string): Item => ({ name, dueAt: 0, heapIndex: -1 });

describe('timer queue', () => {
  it('fires in due order; cancelled items never fire; a rescheduled item fires once, at its new time', async () => {
    const fired: string[] = [];
    const queue = createTimerQueue<Item>((i) => fired.push(i.name));
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item) as [Item, Item, Item, Item];
    queue.schedule(a, 60);
    queue.schedule(b, 20);
    queue.schedule(c, 40);
    queue.schedule(d, 10);
    queue.cancel(c);
    queue.schedule(b, 80); // moved after a
    expect(queue.size).toBe(3);
    await new Promise((r) => setTimeout(r, 150));
    expect(fired).toEqual(['d', 'a', 'b']);
    expect(queue.size).toBe(0);
    expect([a, b, c, d].map((i) => i.heapIndex)).toEqual([-1, -1, -1, -1]);
  });

  it('clear() drops everything and leaves no timer behind', async () => {
    const fired: string[] = [];
    const queue = createTimerQueue<Item>((i) => fired.push(i.name));
    queue.schedule(item('x'), 10);
    queue.clear();
    await new Promise((r) => setTimeout(r, 40));
    expect(fired).toEqual([]);
  });

  it('runs on an injected clock, one wakeup for items due within the slack, one timer at a time', async () => {
    const clock = fakeClock();
    const fired: string[] = [];
    const queue = createTimerQueue<Item>((i) => fired.push(`${i.name}@${clock.now()}`), {
      slackMs: 5,
      now: clock.now,
      setTimer: clock.setTimer,
    });
    queue.schedule(item('a'), 100);
    queue.schedule(item('b'), 104); // within a's slack: runs in a's wakeup
    queue.schedule(item('c'), 106);
    queue.schedule(item('d'), 50);
    expect(clock.pending()).toBe(1);
    await clock.advance(200);
    expect(fired).toEqual(['d@50', 'a@100', 'b@100', 'c@106']);
    expect(clock.pending()).toBe(0);
  });

  it('copes with a timer that runs at once', () => {
    const fired: string[] = [];
    let t = 0;
    const queue = createTimerQueue<Item>((i) => fired.push(i.name), {
      now: () => t,
      setTimer: (fn, delayMs) => {
        t += delayMs;
        fn();
        return () => {};
      },
    });
    queue.schedule(item('x'), 10);
    queue.schedule(item('y'), 20);
    expect(fired).toEqual(['x', 'y']);
    expect(queue.size).toBe(0);
  });
});
