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
 * ten thousand.
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

export function createTimerQueue<T extends TimedItem>(
  fire: (item: T) => void,
  options: { slackMs?: number; now?: () => number } = {},
): TimerQueue<T> {
  const slackMs = options.slackMs ?? 1;
  const now = options.now ?? (() => performance.now());
  const heap: T[] = [];
  let timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (performance.now() time); Infinity when none is armed. */
  let armedFor = Number.POSITIVE_INFINITY;

  const less = (a: T, b: T): boolean => a.dueAt < b.dueAt;

  function place(item: T, index: number): void {
    heap[index] = item;
    item.heapIndex = index;
  }

  function up(index: number): void {
    const item = heap[index] as T;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as T;
      if (!less(item, p)) break;
      place(p, i);
      i = parent;
    }
    place(item, i);
  }

  function down(index: number): void {
    const item = heap[index] as T;
    const n = heap.length;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && less(heap[right] as T, heap[left] as T) ? right : left;
      const c = heap[child] as T;
      if (!less(c, item)) break;
      place(c, i);
      i = child;
    }
    place(item, i);
  }

  function remove(item: T): void {
    const index = item.heapIndex;
    item.heapIndex = -1;
    const last = heap.pop() as T;
    if (last === item) return;
    place(last, index);
    if (index > 0 && less(last, heap[(index - 1) >> 1] as T)) up(index);
    else down(index);
  }

  function arm(): void {
    const first = heap[0];
    if (first === undefined) {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      armedFor = Number.POSITIVE_INFINITY;
      return;
    }
    if (timer !== null && armedFor <= first.dueAt + slackMs) return;
    if (timer !== null) clearTimeout(timer);
    const delay = Math.max(0, Math.ceil(first.dueAt - now()));
    armedFor = now() + delay;
    timer = setTimeout(run, delay);
  }

  function run(): void {
    timer = null;
    armedFor = Number.POSITIVE_INFINITY;
    const until = now() + slackMs;
    // An item fire() queues again with no delay runs in this same pass (the monitor never does:
    // its next probe is queued when the current one answers, always in a later turn).
    let first = heap[0];
    while (first !== undefined && first.dueAt <= until) {
      remove(first);
      fire(first);
      first = heap[0];
    }
    arm();
  }

  return {
    schedule(item, delayMs) {
      if (item.heapIndex >= 0) remove(item);
      item.dueAt = now() + Math.max(0, delayMs);
      item.heapIndex = heap.length;
      heap.push(item);
      up(item.heapIndex);
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
