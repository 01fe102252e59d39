/**
 * Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi 2005) with a fixed capacity.
 *
 * - Memory: at most `capacity` keys, whatever the number of distinct keys in the stream.
 * - Exact while the number of distinct keys stays at or below the capacity (nothing is evicted).
 * - Past that, a new key replaces the key with the smallest count and inherits that count as its
 *   `error`: its count is an upper bound and `count - error` a lower bound. A key that was never
 *   evicted keeps `error` 0 and an exact count. Every key whose true count exceeds
 *   total / capacity is guaranteed to be in the table.
 *
 * The table is a binary min-heap of entries on count, each entry knowing its heap slot and a
 * key -> entry map finding it, so adding is O(log capacity).
 */

export interface HeavyHitter {
  key: string;
  /** Upper bound of the true count; exact when `error` is 0. */
  count: number;
  /** How much of `count` may belong to keys evicted before this one arrived. */
  error: number;
}

/**
 * A copy of `text` that does not keep alive the string it was cut from: keys are slices of log
 * lines, and a kept slice would otherwise keep its whole line in memory.
 */
export function detach(text: string): string {
  return (' ' + text).slice(1);
}

interface Entry {
  key: string;
  count: number;
  error: number;
  /** Position in the heap. */
  slot: number;
}

export class SpaceSaving {
  readonly capacity: number;
  private readonly heap: Entry[] = [];
  private readonly entries = new Map<string, Entry>();
  /** Sum of every weight added. */
  total = 0;
  /** Keys pushed out to make room: 0 means every count is exact. */
  evictions = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.heap.length;
  }

  /** True while no key was ever evicted: every count is exact. */
  get exact(): boolean {
    return this.evictions === 0;
  }

  add(key: string, weight = 1): void {
    this.total += weight;
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      entry.count += weight;
      this.siftDown(entry);
      return;
    }
    if (this.heap.length < this.capacity) {
      const added: Entry = { key: detach(key), count: weight, error: 0, slot: this.heap.length };
      this.heap.push(added);
      this.entries.set(added.key, added);
      this.siftUp(added);
      return;
    }
    // Replace the minimum (the heap's root): the newcomer inherits its count as error.
    const root = this.heap[0]!;
    this.entries.delete(root.key);
    this.evictions++;
    root.key = detach(key);
    root.error = root.count;
    root.count += weight;
    this.entries.set(root.key, root);
    this.siftDown(root);
  }

  /** The entry for a key, if it is in the table. */
  get(key: string): HeavyHitter | undefined {
    const entry = this.entries.get(key);
    return entry && { key, count: entry.count, error: entry.error };
  }

  /** The `n` largest counts, largest first (ties: key order, for stable output). */
  top(n: number): HeavyHitter[] {
    const all: HeavyHitter[] = this.heap.map((e) => ({ key: e.key, count: e.count, error: e.error }));
    all.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return all.slice(0, Math.max(0, n));
  }

  private place(entry: Entry, slot: number): void {
    this.heap[slot] = entry;
    entry.slot = slot;
  }

  private siftUp(entry: Entry): void {
    let i = entry.slot;
    while (i > 0) {
      const parent = this.heap[(i - 1) >> 1]!;
      if (parent.count <= entry.count) break;
      this.place(parent, i);
      i = (i - 1) >> 1;
    }
    this.place(entry, i);
  }

  private siftDown(entry: Entry): void {
    const heap = this.heap;
    const n = heap.length;
    let i = entry.slot;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.count < heap[left]!.count ? heap[right]! : heap[left]!;
      if (entry.count <= child.count) break;
      const to = child.slot;
      this.place(child, i);
      i = to;
    }
    this.place(entry, i);
  }
}
