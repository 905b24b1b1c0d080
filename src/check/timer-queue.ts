/**
 * Many timers on one Node timer: an indexed binary min-heap of items by due time, and a single
 * setTimeout armed for the earliest. The monitor schedules every target's next probe here instead
 * of one setTimeout each: at 10,000 checks a second a Timeout object and a cancel closure per
 * check, each living for a whole interval, were enough garbage to grow the old generation by
 * hundreds of MiB between major collections. An item carries its own heap position, so scheduling,
 * rescheduling and cancelling allocate nothing and cost O(log n).
 *
 * Items due within `slackMs` of a wakeup run in that wakeup (a probe starting a millisecond early
 * changes nothing), so a second of 10,000 spread-out targets costs about a thousand wakeups, not
 * ten thousand. The clock and the one timer are injectable (`now`, `setTimer`), so tests run the
 * same queue under a fake clock.
 */

export interface TimedItem {
  /** performance.now() time the item is due at; meaningful only while queued. */
  dueAt: number;
  /** Position in the heap, -1 when not queued. Owned by the queue. */
  heapIndex: number;
}

export interface TimerQueue<T extends TimedItem> {
  /** Queues (or moves) `item` to run `delayMs` from now. */
  schedule(item: T, delayMs: number): void;
  /** Takes `item` out of the queue; nothing if it is not queued. */
  cancel(item: T): void;
  /** How many items are queued. */
  readonly size: number;
  /** Cancels everything. */
  clear(): void;
}

/** Schedules `fn` after `delayMs`; returns a function that cancels it. */
export type SetTimer = (fn: () => void, delayMs: number) => () => void;

const nodeTimer: SetTimer = (fn, delayMs) => {
  const timer = setTimeout(fn, delayMs);
  return () => clearTimeout(timer);
};

export interface TimerQueueOptions {
  /** Default 1. */
  readonly slackMs?: number;
  /** Default performance.now. */
  readonly now?: () => number;
  /** Default setTimeout. May run `fn` at once (tests): the queue expects it. */
  readonly setTimer?: SetTimer;
}

export function createTimerQueue<T extends TimedItem>(
  fire: (item: T) => void,
  options: TimerQueueOptions = {},
): TimerQueue<T> {
  const slackMs = options.slackMs ?? 1;
  const now = options.now ?? (() => performance.now());
  const setTimer = options.setTimer ?? nodeTimer;
  const heap: T[] = [];
  /**
   * Each heap slot's due time, beside the item: sifting compares these contiguous doubles instead
   * of loading dueAt from thousands of objects scattered over the heap (a cache miss per compare,
   * the dearest part of a wakeup at 10,000 targets). item.dueAt still holds the same number.
   */
  let keys = new Float64Array(64);
  /** Cancels the armed timer; null when none is armed. */
  let timer: (() => void) | null = null;
  /** When the armed timer fires (now() time); Infinity when none is armed. */
  let armedFor = Number.POSITIVE_INFINITY;
  /** Bumped by every arm(): tells whether a timer that ran at once re-armed the queue itself. */
  let arms = 0;

  function place(item: T, key: number, index: number): void {
    heap[index] = item;
    keys[index] = key;
    item.heapIndex = index;
  }

  function up(index: number): void {
    const item = heap[index] as T;
    const key = keys[index] as number;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentKey = keys[parent] as number;
      if (!(key < parentKey)) break;
      place(heap[parent] as T, parentKey, i);
      i = parent;
    }
    place(item, key, i);
  }

  function down(index: number): void {
    const item = heap[index] as T;
    const key = keys[index] as number;
    const n = heap.length;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      let child = left;
      let childKey = keys[left] as number;
      if (left + 1 < n) {
        const rightKey = keys[left + 1] as number;
        if (rightKey < childKey) {
          child = left + 1;
          childKey = rightKey;
        }
      }
      if (!(childKey < key)) break;
      place(heap[child] as T, childKey, i);
      i = child;
    }
    place(item, key, i);
  }

  function remove(item: T): void {
    const index = item.heapIndex;
    item.heapIndex = -1;
    const lastKey = keys[heap.length - 1] as number;
    const last = heap.pop() as T;
    if (last === item) return;
    place(last, lastKey, index);
    if (index > 0 && lastKey < (keys[(index - 1) >> 1] as number)) up(index);
    else down(index);
  }

  function arm(): void {
    const armed = ++arms;
    const first = heap[0];
    if (first === undefined) {
      timer?.();
      timer = null;
      armedFor = Number.POSITIVE_INFINITY;
      return;
    }
    if (timer !== null && armedFor <= (keys[0] as number) + slackMs) return;
    timer?.();
    timer = null;
    const delay = Math.max(0, Math.ceil((keys[0] as number) - now()));
    armedFor = now() + delay;
    const cancel = setTimer(run, delay);
    // A timer that already ran has re-armed the queue (run() ends in arm()): keep that one.
    if (arms === armed) timer = cancel;
  }

  function run(): void {
    timer = null;
    armedFor = Number.POSITIVE_INFINITY;
    const until = now() + slackMs;
    // An item fire() queues again with no delay runs in this same pass (the monitor never does:
    // its next probe is queued when the current one answers, always in a later turn).
    while (heap.length > 0 && (keys[0] as number) <= until) {
      const first = heap[0] as T;
      remove(first);
      fire(first);
    }
    arm();
  }

  return {
    schedule(item, delayMs) {
      if (item.heapIndex >= 0) remove(item);
      const dueAt = now() + Math.max(0, delayMs);
      item.dueAt = dueAt;
      const index = heap.length;
      if (index === keys.length) {
        const grown = new Float64Array(2 * keys.length);
        grown.set(keys);
        keys = grown;
      }
      place(item, dueAt, index);
      up(index);
      arm();
    },
    cancel(item) {
      if (item.heapIndex < 0) return;
      remove(item);
      // A timer left armed for an item that is gone just finds nothing due and re-arms.
      if (heap.length === 0) arm();
    },
    get size() {
      return heap.length;
    },
    clear() {
      for (const item of heap) item.heapIndex = -1;
      heap.length = 0;
      arm();
    },
  };
}
