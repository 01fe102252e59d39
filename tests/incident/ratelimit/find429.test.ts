import { describe, expect, it } from 'vitest';
import { WINDOW_BYTES, createFinder } from '../../../commands/incident/ratelimit/find429.ts';
import type { Finder } from '../../../commands/incident/ratelimit/find429.ts';

function allHits(finder: Finder, chunk: Buffer, start: number, end: number): number[] {
  finder.begin(chunk, start, end);
  const hits: number[] = [];
  for (let at = finder.next(start); at !== -1; at = finder.next(at + 1)) hits.push(at);
  return hits;
}

/** Every position of "429" wholly inside [start, end), the slow obvious way. */
function expected(chunk: Buffer, start: number, end: number): number[] {
  const hits: number[] = [];
  for (let i = start; i + 3 <= end; i++) if (chunk[i] === 0x34 && chunk[i + 1] === 0x32 && chunk[i + 2] === 0x39) hits.push(i);
  return hits;
}

let seed = 7;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const noise = (n: number) => Buffer.from(Array.from({ length: n }, () => '4290 \n'.charCodeAt(Math.floor(random() * 6))));

describe('finding "429"', () => {
  const simd = createFinder();

  it('uses WebAssembly SIMD on this runtime', () => {
    expect(simd.kind).toBe('simd');
    expect(createFinder('indexOf').kind).toBe('indexOf');
  });

  it('finds exactly the positions the obvious loop finds, for both finders, on random data and bounds', () => {
    const indexOf = createFinder('indexOf');
    for (let round = 0; round < 300; round++) {
      const chunk = noise(Math.floor(random() * 100));
      const start = Math.floor(random() * (chunk.length + 1));
      const end = start + Math.floor(random() * (chunk.length - start + 1));
      const want = expected(chunk, start, end);
      expect(allHits(simd, chunk, start, end)).toEqual(want);
      expect(allHits(indexOf, chunk, start, end)).toEqual(want);
    }
  });

  it('finds matches across window boundaries of large chunks', () => {
    const W = WINDOW_BYTES;
    // Straddling the first and second window ends (W - 2, 2W - 1), ending exactly at one (W - 3 in
    // the second chunk), and the very first and last possible positions.
    for (const placed of [
      [0, 17, W - 6, W - 2, W + 5, 2 * W - 1, 3 * W + 97],
      [W - 3, W + 3],
    ]) {
      const chunk = Buffer.alloc(3 * W + 100, 'x');
      for (const at of placed) chunk.write('429', at, 'latin1');
      expect(expected(chunk, 0, chunk.length)).toEqual(placed);
      expect(allHits(simd, chunk, 0, chunk.length)).toEqual(placed);
    }
    const chunk = Buffer.alloc(2 * W, 'x');
    chunk.write('429', W - 2, 'latin1');
    expect(allHits(simd, chunk, 5, W + 1)).toEqual([W - 2]);
    expect(allHits(simd, chunk, 5, W)).toEqual([]);
    // Random noise over several windows.
    const big = noise(2 * WINDOW_BYTES + 1234);
    expect(allHits(simd, big, 3, big.length - 1)).toEqual(expected(big, 3, big.length - 1));
  });

  it('searches chunks read into its scratch window in place, with the same answers', () => {
    const scratch = simd.scratch();
    expect(scratch.length).toBe(WINDOW_BYTES);
    const data = noise(WINDOW_BYTES);
    data.copy(scratch);
    for (const [start, end] of [
      [0, WINDOW_BYTES],
      [10, 5000],
      [WINDOW_BYTES - 40, WINDOW_BYTES],
    ] as const) {
      expect(allHits(simd, scratch.subarray(0, end), start, end)).toEqual(expected(data, start, end));
    }
    // A view into the middle of the window.
    const view = scratch.subarray(1000, 9000);
    expect(allHits(simd, view, 0, view.length)).toEqual(expected(data.subarray(1000, 9000), 0, 8000));
  });
});
