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

const byCountThenKey = (a: HeavyHitter, b: HeavyHitter) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * The `n` entries that come first in count-then-key order, in no particular order. Counts are
 * compared as numbers first, keys only among the entries tied at the cut (a long tail holds
 * thousands of equal counts).
 */
function largest(entries: HeavyHitter[], n: number): HeavyHitter[] {
  if (n <= 0) return [];
  if (entries.length <= n) return entries;
  const byCount = [...entries].sort((a, b) => b.count - a.count);
  const cut = byCount[n - 1]!.count;
  const above = byCount.filter((e) => e.count > cut);
  const tied = byCount.filter((e) => e.count === cut).sort(byCountThenKey);
  return above.concat(tied.slice(0, n - above.length));
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

  /** Every entry, in no particular order (what another table needs to merge this one). */
  entriesList(): HeavyHitter[] {
    return this.heap.map((e) => ({ key: e.key, count: e.count, error: e.error }));
  }

  /**
   * Adds the counts of a table filled from another part of the same stream (the mergeable
   * summaries rule): a key missing from one table may have occurred there up to that table's
   * smallest count (0 while it evicted nothing), which is added to its count and its error. Past
   * the capacity the smallest merged entries are dropped (among equal counts, this table's keep
   * their place first). Two exact tables whose keys fit give exactly the counts one table fed
   * with both parts would.
   */
  merge(other: { entries: HeavyHitter[]; evictions: number; total: number }): void {
    const floorOf = (entries: HeavyHitter[], evictions: number) => (evictions === 0 || entries.length === 0 ? 0 : Math.min(...entries.map((e) => e.count)));
    const mine = this.entriesList();
    const ownFloor = floorOf(mine, this.evictions);
    const otherFloor = floorOf(other.entries, other.evictions);
    const merged = new Map<string, HeavyHitter>();
    for (const e of mine) merged.set(e.key, { key: e.key, count: e.count + otherFloor, error: e.error + otherFloor });
    for (const e of other.entries) {
      const had = merged.get(e.key);
      if (had) {
        had.count += e.count - otherFloor;
        had.error += e.error - otherFloor;
      } else {
        merged.set(e.key, { key: e.key, count: e.count + ownFloor, error: e.error + ownFloor });
      }
    }
    // Largest first; the sort is stable, so among equal counts the order above decides (the same
    // states always merge alike) without comparing keys, thousands of which tie in a long tail.
    const all = [...merged.values()].sort((a, b) => b.count - a.count);
    const dropped = Math.max(0, all.length - this.capacity);
    const kept = all.slice(0, this.capacity);
    this.heap.length = 0;
    this.entries.clear();
    // Smallest first: each entry joins the min-heap at the bottom without moving.
    for (const e of kept.reverse()) {
      const entry: Entry = { key: e.key, count: e.count, error: e.error, slot: this.heap.length };
      this.heap.push(entry);
      this.entries.set(entry.key, entry);
      this.siftUp(entry);
    }
    this.total += other.total;
    this.evictions += other.evictions + dropped;
  }

  /** The `n` largest counts, largest first (ties: key order, for stable output). */
  top(n: number): HeavyHitter[] {
    return largest(this.entriesList(), n).sort(byCountThenKey);
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
