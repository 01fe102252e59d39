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
 * The table is a binary min-heap on count with a key -> slot index, so adding is O(log capacity).
 */

export interface HeavyHitter {
  key: string;
  /** Upper bound of the true count; exact when `error` is 0. */
  count: number;
  /** How much of `count` may belong to keys evicted before this one arrived. */
  error: number;
}

export class SpaceSaving {
  readonly capacity: number;
  private readonly keys: string[] = [];
  private readonly counts: number[] = [];
  private readonly errors: number[] = [];
  private readonly slots = new Map<string, number>();
  /** Sum of every weight added. */
  total = 0;
  /** Keys pushed out to make room: 0 means every count is exact. */
  evictions = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.keys.length;
  }

  /** True while no key was ever evicted: every count is exact. */
  get exact(): boolean {
    return this.evictions === 0;
  }

  add(key: string, weight = 1): void {
    this.total += weight;
    const slot = this.slots.get(key);
    if (slot !== undefined) {
      this.counts[slot]! += weight;
      this.siftDown(slot);
      return;
    }
    if (this.keys.length < this.capacity) {
      const at = this.keys.length;
      this.keys.push(key);
      this.counts.push(weight);
      this.errors.push(0);
      this.slots.set(key, at);
      this.siftUp(at);
      return;
    }
    // Replace the minimum (the heap's root).
    const evicted = this.keys[0]!;
    const min = this.counts[0]!;
    this.slots.delete(evicted);
    this.evictions++;
    this.keys[0] = key;
    this.errors[0] = min;
    this.counts[0] = min + weight;
    this.slots.set(key, 0);
    this.siftDown(0);
  }

  /** The entry for a key, if it is in the table. */
  get(key: string): HeavyHitter | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    return { key, count: this.counts[slot]!, error: this.errors[slot]! };
  }

  /** The `n` largest counts, largest first (ties: key order, for stable output). */
  top(n: number): HeavyHitter[] {
    const all: HeavyHitter[] = this.keys.map((key, i) => ({ key, count: this.counts[i]!, error: this.errors[i]! }));
    all.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return all.slice(0, Math.max(0, n));
  }

  private swap(a: number, b: number): void {
    const ka = this.keys[a]!;
    const kb = this.keys[b]!;
    this.keys[a] = kb;
    this.keys[b] = ka;
    const c = this.counts[a]!;
    this.counts[a] = this.counts[b]!;
    this.counts[b] = c;
    const e = this.errors[a]!;
    this.errors[a] = this.errors[b]!;
    this.errors[b] = e;
    this.slots.set(kb, a);
    this.slots.set(ka, b);
  }

  private siftUp(at: number): void {
    let i = at;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.counts[parent]! <= this.counts[i]!) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(at: number): void {
    const n = this.keys.length;
    let i = at;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.counts[right]! < this.counts[left]! ? right : left;
      if (this.counts[i]! <= this.counts[child]!) break;
      this.swap(i, child);
      i = child;
    }
  }
}
