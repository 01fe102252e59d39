/**
 * Finds the bytes "429" in log chunks, 16 positions per step with WebAssembly SIMD.
 *
 * This search is most of the cost of counting 429s (every other step touches only the ~2% of
 * lines that contain "429"). `Buffer.indexOf` stops at every "4" (digits are everywhere in access
 * logs); the SIMD loop compares 16 positions with "4", the next 16 with "2" and the next 16 with
 * "9" at once and only stops where all three match. When WebAssembly SIMD is not available the
 * finder falls back to `Buffer.indexOf`, with the same answers.
 *
 * The module (hand-assembled below, 200 bytes), in text form:
 *
 *   (module
 *     (memory (export "memory") 33)                       ;; 33 x 64 KiB: two windows + slack
 *     (func (export "find") (param $from i32) (param $end i32) (result i32)
 *       (local $i i32) (local $bits i32) (local $n4 v128) (local $n2 v128) (local $n9 v128)
 *       (local.set $i (local.get $from))
 *       (local.set $n4 (i8x16.splat (i32.const 0x34)))     ;; "4"
 *       (local.set $n2 (i8x16.splat (i32.const 0x32)))     ;; "2"
 *       (local.set $n9 (i8x16.splat (i32.const 0x39)))     ;; "9"
 *       (block $tail (loop $simd                           ;; while i + 18 <= end
 *         (br_if $tail (i32.gt_u (i32.add (local.get $i) (i32.const 18)) (local.get $end)))
 *         (local.tee $bits (i8x16.bitmask (v128.and (v128.and
 *             (i8x16.eq (v128.load offset=0 (local.get $i)) (local.get $n4))
 *             (i8x16.eq (v128.load offset=1 (local.get $i)) (local.get $n2)))
 *             (i8x16.eq (v128.load offset=2 (local.get $i)) (local.get $n9)))))
 *         (if (then (return (i32.add (local.get $i) (i32.ctz (local.get $bits))))))
 *         (local.set $i (i32.add (local.get $i) (i32.const 16)))
 *         (br $simd)))
 *       (block $done (loop $scalar                         ;; the last < 18 bytes, one by one
 *         (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 3)) (local.get $end)))
 *         (if (i32.and (i32.and
 *               (i32.eq (i32.load8_u offset=0 (local.get $i)) (i32.const 0x34))
 *               (i32.eq (i32.load8_u offset=1 (local.get $i)) (i32.const 0x32)))
 *               (i32.eq (i32.load8_u offset=2 (local.get $i)) (i32.const 0x39)))
 *           (then (return (local.get $i))))
 *         (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *         (br $scalar)))
 *       (i32.const -1)))
 */

const NEEDLE = Buffer.from('429');
/**
 * The module's memory holds two windows: the first is lent to callers that read straight into it
 * (`scratch()`: searched in place, no copy), the second receives copies of other chunks.
 */
export const WINDOW_BYTES = 1 << 20;
const COPY_AT = WINDOW_BYTES;
const PAGES = (2 * WINDOW_BYTES) / 65536 + 1;

function leb128(value: number): number[] {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function section(id: number, content: number[]): number[] {
  return [id, ...leb128(content.length), ...content];
}

function name(text: string): number[] {
  return [text.length, ...Buffer.from(text, 'ascii')];
}

// Opcodes used below.
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22, I32_CONST = 0x41, I32_ADD = 0x6a, I32_GT_U = 0x4b, I32_EQ = 0x46, I32_AND = 0x71, I32_CTZ = 0x68;
const I32_LOAD8_U = 0x2d, BLOCK = 0x02, LOOP = 0x03, IF = 0x04, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, RETURN = 0x0f, VOID = 0x40;
const SIMD = 0xfd, V128_LOAD = 0x00, I8X16_SPLAT = 0x0f, I8X16_EQ = 0x23, V128_AND = 0x4e, I8X16_BITMASK = 0x64;
const I32 = 0x7f, V128 = 0x7b;
// Locals: 0 $from, 1 $end (params), 2 $i, 3 $bits, 4 $n4, 5 $n2, 6 $n9.
const [FROM, END_, I, BITS, N4, N2, N9] = [0, 1, 2, 3, 4, 5, 6];

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const compare = (offset: number, splat: number) => [LOCAL_GET, I, SIMD, V128_LOAD, 0x00, offset, LOCAL_GET, splat, SIMD, I8X16_EQ];
  const byteIs = (offset: number, value: number) => [LOCAL_GET, I, I32_LOAD8_U, 0x00, offset, I32_CONST, value, I32_EQ];
  const body = [
    0x02, 0x02, I32, 0x03, V128, // locals: 2 x i32, 3 x v128
    LOCAL_GET, FROM, LOCAL_SET, I,
    I32_CONST, 0x34, SIMD, I8X16_SPLAT, LOCAL_SET, N4,
    I32_CONST, 0x32, SIMD, I8X16_SPLAT, LOCAL_SET, N2,
    I32_CONST, 0x39, SIMD, I8X16_SPLAT, LOCAL_SET, N9,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, I, I32_CONST, 18, I32_ADD, LOCAL_GET, END_, I32_GT_U, BR_IF, 1,
    ...compare(0, N4), ...compare(1, N2), SIMD, V128_AND, ...compare(2, N9), SIMD, V128_AND,
    SIMD, I8X16_BITMASK, LOCAL_TEE, BITS,
    IF, VOID, LOCAL_GET, I, LOCAL_GET, BITS, I32_CTZ, I32_ADD, RETURN, END,
    LOCAL_GET, I, I32_CONST, 16, I32_ADD, LOCAL_SET, I, BR, 0,
    END, END,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, I, I32_CONST, 3, I32_ADD, LOCAL_GET, END_, I32_GT_U, BR_IF, 1,
    ...byteIs(0, 0x34), ...byteIs(1, 0x32), I32_AND, ...byteIs(2, 0x39), I32_AND,
    IF, VOID, LOCAL_GET, I, RETURN, END,
    LOCAL_GET, I, I32_CONST, 1, I32_ADD, LOCAL_SET, I, BR, 0,
    END, END,
    I32_CONST, 0x7f, // -1
    END,
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x02, I32, I32, 0x01, I32]), // type: (i32, i32) -> i32
    ...section(3, [0x01, 0x00]), // one function of type 0
    ...section(5, [0x01, 0x00, ...leb128(PAGES)]), // one memory
    ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('find'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb128(body.length), ...body]),
  ]);
}

interface SimdExports {
  memory: WebAssembly.Memory;
  find(from: number, end: number): number;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null when this runtime has no WebAssembly SIMD. */
function simdModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(moduleBytes());
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Finds "429" in one region of one chunk; `next` returns hits in increasing order. */
export interface Finder {
  readonly kind: 'simd' | 'indexOf';
  /**
   * A WINDOW_BYTES buffer to read input into: chunks within it are searched without a copy. Its
   * content is overwritten by the next read, so a chunk in it must be scanned before that.
   */
  scratch(): Buffer;
  /** Searches chunk[start, end) from now on. */
  begin(chunk: Buffer, start: number, end: number): void;
  /** Position of the first "429" at or after `from` (wholly before `end`), or -1. */
  next(from: number): number;
}

class IndexOfFinder implements Finder {
  readonly kind = 'indexOf' as const;
  private chunk: Buffer = Buffer.alloc(0);
  private end = 0;
  private lent: Buffer | undefined;

  scratch(): Buffer {
    this.lent ??= Buffer.allocUnsafe(WINDOW_BYTES);
    return this.lent;
  }

  begin(chunk: Buffer, _start: number, end: number): void {
    this.chunk = chunk;
    this.end = end;
  }

  next(from: number): number {
    const at = this.chunk.indexOf(NEEDLE, from);
    return at !== -1 && at + NEEDLE.length <= this.end ? at : -1;
  }
}

class SimdFinder implements Finder {
  readonly kind = 'simd' as const;
  private readonly find: (from: number, end: number) => number;
  private readonly buffer: ArrayBuffer;
  private readonly memory: Uint8Array;
  private chunk: Buffer = Buffer.alloc(0);
  private end = 0;
  /** chunk[windowStart, windowEnd) is in the module's memory from `base` on. */
  private windowStart = 0;
  private windowEnd = 0;
  private base = 0;

  constructor(module: WebAssembly.Module) {
    const exports = new WebAssembly.Instance(module, {}).exports as unknown as SimdExports;
    this.find = exports.find;
    this.buffer = exports.memory.buffer;
    this.memory = new Uint8Array(this.buffer);
  }

  scratch(): Buffer {
    return Buffer.from(this.buffer, 0, WINDOW_BYTES);
  }

  begin(chunk: Buffer, start: number, end: number): void {
    this.chunk = chunk;
    this.end = end;
    // A chunk read into the scratch window is searched where it is.
    if (chunk.buffer === this.buffer && chunk.byteOffset + end <= WINDOW_BYTES) {
      this.windowStart = 0;
      this.windowEnd = end;
      this.base = chunk.byteOffset;
    } else {
      this.load(start);
    }
  }

  private load(from: number): void {
    this.windowStart = from;
    this.windowEnd = Math.min(this.end, from + WINDOW_BYTES);
    this.base = COPY_AT;
    this.memory.set(this.chunk.subarray(from, this.windowEnd), COPY_AT);
  }

  next(from: number): number {
    let position = from;
    for (;;) {
      if (position + NEEDLE.length > this.end) return -1;
      if (position < this.windowStart || position + NEEDLE.length > this.windowEnd) this.load(position);
      const offset = this.base - this.windowStart;
      const found = this.find(position + offset, this.windowEnd + offset);
      if (found !== -1) return found - offset;
      if (this.windowEnd >= this.end) return -1;
      // A "429" may straddle the window's end: the next window starts 2 bytes before it.
      position = Math.max(position, this.windowEnd - (NEEDLE.length - 1));
      this.load(position);
    }
  }
}

/** A finder using WebAssembly SIMD when available (or `Buffer.indexOf` when asked or not). */
export function createFinder(kind: 'best' | 'indexOf' = 'best'): Finder {
  const module = kind === 'best' ? simdModule() : null;
  return module ? new SimdFinder(module) : new IndexOfFinder();
}
