/**
 * Counts per minute in a fixed ring of slots: bounded memory however long the logs are. A slot
 * holds the newest minute that maps to it, so the ring keeps the last `slots` minutes seen; a count
 * for a minute older than what its slot already holds is counted in `tooOld` instead.
 */

export interface MinuteCount {
  /** Start of the minute, ms since epoch. */
  minuteMs: number;
  count: number;
}

export class MinuteRing {
  readonly slots: number;
  private readonly minutes: Float64Array;
  private readonly counts: Float64Array;
  /** Counts whose minute had already left the ring. */
  tooOld = 0;

  constructor(slots: number) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError('slots must be a positive integer');
    this.slots = slots;
    this.minutes = new Float64Array(slots).fill(-1);
    this.counts = new Float64Array(slots);
  }

  add(timeMs: number, weight = 1): void {
    const minute = Math.floor(timeMs / 60_000);
    const slot = ((minute % this.slots) + this.slots) % this.slots;
    const held = this.minutes[slot]!;
    if (held === minute) {
      this.counts[slot]! += weight;
    } else if (held < minute) {
      if (held >= 0) this.tooOld += this.counts[slot]!;
      this.minutes[slot] = minute;
      this.counts[slot] = weight;
    } else {
      this.tooOld += weight;
    }
  }

  /** Every (minute, count) the ring holds, for another ring to merge. */
  held(): MinuteCount[] {
    const out: MinuteCount[] = [];
    for (let i = 0; i < this.slots; i++) if (this.minutes[i]! >= 0) out.push({ minuteMs: this.minutes[i]! * 60_000, count: this.counts[i]! });
    return out;
  }

  /** Adds another ring's minutes (from another part of the same logs) and what it dropped. */
  merge(held: MinuteCount[], tooOld: number): void {
    for (const { minuteMs, count } of held) this.add(minuteMs, count);
    this.tooOld += tooOld;
  }

  /**
   * Minutes in order, oldest first, from the newest minute seen back `slots` minutes (a minute
   * with no count is included as 0 between the first and the last minute seen).
   */
  series(): MinuteCount[] {
    let newest = -1;
    for (const m of this.minutes) if (m > newest) newest = m;
    if (newest < 0) return [];
    const byMinute = new Map<number, number>();
    for (let i = 0; i < this.slots; i++) {
      const m = this.minutes[i]!;
      if (m >= 0 && m > newest - this.slots) byMinute.set(m, this.counts[i]!);
    }
    const oldest = Math.min(...byMinute.keys());
    const out: MinuteCount[] = [];
    for (let m = oldest; m <= newest; m++) out.push({ minuteMs: m * 60_000, count: byMinute.get(m) ?? 0 });
    return out;
  }
}
