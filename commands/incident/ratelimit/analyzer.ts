/**
 * Streaming 429 analysis with bounded memory: bytes in, counters out. Nothing keeps the lines.
 *
 * `RateLimitAnalyzer` holds the counters (offenders, paths, minutes); one `LineScanner` per input
 * stream (one per pod) splits bytes into lines and hands the candidates to the analyzer. A response
 * with status 429 always has the characters "429" on its line in every supported format, so the
 * scanner looks for those bytes first (a SIMD search over the whole chunk, see find429.ts) and
 * parses only the lines that contain them; other lines are skipped without being decoded. Lines
 * containing "429" that no parser understands are counted as unparseable.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { createFinder } from './find429.ts';
import type { Finder } from './find429.ts';
import { SpaceSaving } from './heavy-hitters.ts';
import type { HeavyHitter } from './heavy-hitters.ts';
import { MinuteRing } from './minute-ring.ts';
import type { MinuteCount } from './minute-ring.ts';
import { QUICK_INGRESS, chunkHints, ingressRequest, newQuickFields, parseLogLine, quickNginxStatus } from './parsers.ts';
import type { LogFormat, ParseOptions, ParsedRequest } from './parsers.ts';

export const DEFAULT_CLIENT_CAPACITY = 10_000;
export const DEFAULT_PATH_CAPACITY = 1_000;
/** (client, minute) pairs tracked for the offenders' lines on the chart. */
export const DEFAULT_CLIENT_MINUTE_CAPACITY = 10_000;
/** A longer line is cut: its first part is still examined, the rest skipped. */
export const MAX_LINE_BYTES = 64 * 1024;

const NEEDLE = Buffer.from('429');
/** Candidate lines of one chunk checked byte by byte before the chunk's hints are computed. */
const HINTS_AFTER = 128;
const NL = 0x0a;

export interface AnalyzerOptions extends ParseOptions {
  /** Distinct clients tracked exactly; beyond this counts become bounds (see SpaceSaving). */
  clientCapacity?: number;
  pathCapacity?: number;
  clientMinuteCapacity?: number;
  /** Minutes kept for the per-minute view. */
  minuteSlots?: number;
  /** How to find "429": WebAssembly SIMD when available (default), or Buffer.indexOf. */
  search?: 'best' | 'indexOf';
}

export interface RateLimitSummary {
  /** Bytes of log read. */
  bytes: number;
  /** Lines containing "429" (the only ones parsed). */
  candidates: number;
  /** Lines containing "429" that no parser understood. */
  unparseable: number;
  /** Lines longer than MAX_LINE_BYTES (cut). */
  oversized: number;
  /** Responses with status 429. */
  total429: number;
  /** 429s whose line named no client address. */
  withoutClient: number;
  /** 429s with no timestamp (not in the per-minute view). */
  withoutTime: number;
  /** 429 lines that carried an X-Forwarded-For value. */
  forwarded: number;
  formats: Partial<Record<LogFormat, number>>;
  offenders: HeavyHitter[];
  /** Distinct clients seen; a lower bound when `exact` is false. */
  distinctClients: number;
  /** False once the client table overflowed: counts with error > 0 are upper bounds. */
  exact: boolean;
  clientCapacity: number;
  paths: HeavyHitter[];
  pathsExact: boolean;
  perMinute: MinuteCount[];
  /** 429s older than the per-minute window. */
  minutesDropped: number;
  /** The top offenders' 429s in each minute of `perMinute`, heaviest offender first. */
  offenderMinutes: OffenderMinutes[];
  /** False once the (client, minute) table overflowed: offenders' minute counts are upper bounds. */
  offenderMinutesExact: boolean;
}

export interface OffenderMinutes {
  key: string;
  minutes: MinuteCount[];
}

/** The plain counters of an analyzer. */
export type AnalyzerCounts = Pick<RateLimitSummary, 'bytes' | 'candidates' | 'unparseable' | 'oversized' | 'total429' | 'withoutClient' | 'withoutTime' | 'forwarded' | 'formats'>;

/** An analyzer's counts as plain data, to merge into another analyzer (see `merge`). */
export interface AnalyzerState extends AnalyzerCounts {
  clients: { entries: HeavyHitter[]; evictions: number; total: number };
  paths: { entries: HeavyHitter[]; evictions: number; total: number };
  clientMinutes: { entries: HeavyHitter[]; evictions: number; total: number };
  minutes: MinuteCount[];
  minutesTooOld: number;
}

export class RateLimitAnalyzer {
  readonly options: ParseOptions;
  readonly clients: SpaceSaving;
  readonly paths: SpaceSaving;
  /** Keyed "client minute" (minutes since epoch): each client's 429s per minute. */
  readonly clientMinutes: SpaceSaving;
  readonly minutes: MinuteRing;
  /** Shared by this analyzer's scanners: a scan runs start to end without yielding. */
  readonly finder: Finder;
  bytes = 0;
  candidates = 0;
  unparseable = 0;
  oversized = 0;
  total429 = 0;
  withoutClient = 0;
  withoutTime = 0;
  forwarded = 0;
  readonly formats: Partial<Record<LogFormat, number>> = {};

  constructor(options: AnalyzerOptions) {
    this.options = { trustForwardedFor: options.trustForwardedFor };
    this.clients = new SpaceSaving(options.clientCapacity ?? DEFAULT_CLIENT_CAPACITY);
    this.paths = new SpaceSaving(options.pathCapacity ?? DEFAULT_PATH_CAPACITY);
    this.clientMinutes = new SpaceSaving(options.clientMinuteCapacity ?? DEFAULT_CLIENT_MINUTE_CAPACITY);
    this.minutes = new MinuteRing(options.minuteSlots ?? 24 * 60);
    this.finder = createFinder(options.search ?? 'best');
  }

  /** One line that contains "429" (or any line, when fed directly). */
  candidate(line: string): void {
    this.candidates++;
    const parsed = parseLogLine(line, this.options);
    if (!parsed) {
      this.unparseable++;
      return;
    }
    this.count(parsed);
  }

  /** A candidate line already parsed from its bytes (see LineScanner.scan). */
  parsedCandidate(parsed: ParsedRequest): void {
    this.candidates++;
    this.count(parsed);
  }

  private count(parsed: ParsedRequest): void {
    this.formats[parsed.format] = (this.formats[parsed.format] ?? 0) + 1;
    if (parsed.status !== 429) return;
    this.total429++;
    if (parsed.forwarded) this.forwarded++;
    if (parsed.ip === undefined) this.withoutClient++;
    else this.clients.add(parsed.ip);
    this.paths.add(parsed.path);
    if (parsed.timeMs === undefined) this.withoutTime++;
    else {
      this.minutes.add(parsed.timeMs);
      if (parsed.ip !== undefined) this.clientMinutes.add(clientMinuteKey(parsed.ip, parsed.timeMs));
    }
  }

  /**
   * A candidate line whose status `quickNginxStatus` read from its bytes (not 429): counted like
   * `candidate` would count it, without decoding it.
   */
  notLimited(quick: number): void {
    this.candidates++;
    const format: LogFormat = quick >= QUICK_INGRESS ? 'ingress-nginx' : 'nginx';
    this.formats[format] = (this.formats[format] ?? 0) + 1;
  }

  /** Everything counted so far, as plain data (what a worker thread sends back). */
  state(): AnalyzerState {
    return {
      ...this.counts(),
      clients: { entries: this.clients.entriesList(), evictions: this.clients.evictions, total: this.clients.total },
      paths: { entries: this.paths.entriesList(), evictions: this.paths.evictions, total: this.paths.total },
      clientMinutes: { entries: this.clientMinutes.entriesList(), evictions: this.clientMinutes.evictions, total: this.clientMinutes.total },
      minutes: this.minutes.held(),
      minutesTooOld: this.minutes.tooOld,
    };
  }

  /** Adds what another analyzer counted over another part of the same input. */
  merge(other: AnalyzerState): void {
    this.bytes += other.bytes;
    this.candidates += other.candidates;
    this.unparseable += other.unparseable;
    this.oversized += other.oversized;
    this.total429 += other.total429;
    this.withoutClient += other.withoutClient;
    this.withoutTime += other.withoutTime;
    this.forwarded += other.forwarded;
    for (const [format, count] of Object.entries(other.formats) as Array<[LogFormat, number]>) this.formats[format] = (this.formats[format] ?? 0) + count;
    this.clients.merge(other.clients);
    this.paths.merge(other.paths);
    this.clientMinutes.merge(other.clientMinutes);
    this.minutes.merge(other.minutes, other.minutesTooOld);
  }

  /** A new line splitter for one input stream, feeding this analyzer. */
  scanner(): LineScanner {
    return new LineScanner(this);
  }

  /** A Writable for one input stream (e.g. one pod's log). */
  writable(): Writable {
    const scanner = this.scanner();
    return new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        scanner.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        callback();
      },
      final(callback) {
        scanner.end();
        callback();
      },
    });
  }

  /** Consumes a whole readable stream (a file, a socket). */
  async consume(stream: Readable): Promise<void> {
    const scanner = this.scanner();
    for await (const chunk of stream) scanner.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    scanner.end();
  }

  /** Streams a file (or the bytes [start, start + limitBytes) of it) through the analyzer. */
  async consumeFile(path: string, options: { start?: number; limitBytes?: number } = {}): Promise<void> {
    const fd = openSync(path, 'r');
    try {
      await this.consumeRange(fd, options.start ?? 0, options.limitBytes ?? Number.POSITIVE_INFINITY);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Streams the bytes [start, start + length) of an open file through the analyzer as one input
   * stream: each chunk is read straight into the finder's scratch window (searched in place,
   * nothing allocated per chunk). Reads are synchronous, which is the fastest for files in the page
   * cache; the event loop gets a turn every 16 MiB.
   */
  async consumeRange(fd: number, start: number, length: number): Promise<void> {
    const scanner = this.scanner();
    const buffer = this.finder.scratch();
    let position = start;
    let remaining = length;
    for (let chunks = 1; remaining > 0; chunks++) {
      const bytesRead = readSync(fd, buffer, 0, Math.min(buffer.length, remaining), position);
      position += bytesRead;
      if (bytesRead === 0) break;
      remaining -= bytesRead;
      scanner.push(buffer.subarray(0, bytesRead));
      if (chunks % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    scanner.end();
  }

  /** The plain counters, shared by `state` and `summary`. */
  private counts(): AnalyzerCounts {
    return {
      bytes: this.bytes,
      candidates: this.candidates,
      unparseable: this.unparseable,
      oversized: this.oversized,
      total429: this.total429,
      withoutClient: this.withoutClient,
      withoutTime: this.withoutTime,
      forwarded: this.forwarded,
      formats: { ...this.formats },
    };
  }

  /** `charted` offenders get their own per-minute counts (the chart's lines). */
  summary(topClients = 10, topPaths = 5, charted = 4): RateLimitSummary {
    const offenders = this.clients.top(topClients);
    const perMinute = this.minutes.series();
    return {
      ...this.counts(),
      offenders,
      distinctClients: this.clients.size,
      exact: this.clients.exact,
      clientCapacity: this.clients.capacity,
      paths: this.paths.top(topPaths),
      pathsExact: this.paths.exact,
      perMinute,
      minutesDropped: this.minutes.tooOld,
      offenderMinutes: offenders.slice(0, charted).map((hit) => ({
        key: hit.key,
        minutes: perMinute.map((m) => ({ minuteMs: m.minuteMs, count: this.clientMinutes.get(clientMinuteKey(hit.key, m.minuteMs))?.count ?? 0 })),
      })),
      offenderMinutesExact: this.clientMinutes.exact,
    };
  }
}

function clientMinuteKey(client: string, timeMs: number): string {
  return `${client} ${Math.floor(timeMs / 60_000)}`;
}

/** Splits one byte stream into lines; keeps at most one partial line between chunks. */
export class LineScanner {
  private carry: Buffer | undefined;
  private carryOversized = false;
  /** Reused for every line: where quickNginxStatus found the fields. */
  private readonly fields = newQuickFields();

  constructor(private readonly analyzer: RateLimitAnalyzer) {}

  push(chunk: Buffer): void {
    this.analyzer.bytes += chunk.length;
    let start = 0;
    if (this.carry !== undefined) {
      const nl = chunk.indexOf(NL);
      if (nl === -1) {
        this.appendCarry(chunk);
        return;
      }
      this.appendCarry(chunk.subarray(0, nl));
      this.finishCarry();
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last >= start) {
      this.scan(chunk, start, last);
      start = last + 1;
    }
    if (start < chunk.length) this.appendCarry(chunk.subarray(start));
  }

  /** End of the stream: a last line without a newline still counts. */
  end(): void {
    if (this.carry !== undefined) this.finishCarry();
  }

  private appendCarry(part: Buffer): void {
    const have = this.carry?.length ?? 0;
    const room = MAX_LINE_BYTES - have;
    if (part.length > room) this.carryOversized = true;
    const kept = part.length > room ? part.subarray(0, Math.max(0, room)) : part;
    // Copy: the chunk's memory belongs to the stream.
    this.carry = this.carry === undefined ? Buffer.from(kept) : Buffer.concat([this.carry, kept]);
  }

  private finishCarry(): void {
    const line = this.carry!;
    this.carry = undefined;
    if (this.carryOversized) this.analyzer.oversized++;
    this.carryOversized = false;
    if (line.indexOf(NEEDLE) !== -1) this.analyzer.candidate(line.toString('utf8'));
  }

  /** Complete lines in chunk[start..last], where chunk[last] is a newline. */
  private scan(chunk: Buffer, start: number, last: number): void {
    const analyzer = this.analyzer;
    const finder = analyzer.finder;
    finder.begin(chunk, start, last);
    let hit = finder.next(start);
    // The hints cost a few passes over the rest of the chunk, which pays off only where candidate
    // lines are many (noisy logs); the first ones are checked byte by byte instead.
    let hints = 0;
    let checked = 0;
    while (hit !== -1) {
      const lineStart = hit === start ? start : Math.max(start, chunk.lastIndexOf(NL, hit - 1) + 1);
      const lineEnd = chunk.indexOf(NL, hit);
      let end = lineEnd;
      if (end - lineStart > MAX_LINE_BYTES) {
        analyzer.oversized++;
        end = lineStart + MAX_LINE_BYTES;
      }
      // Most candidates are not 429s ("429" in a byte count, a port, an id): their status is
      // read from the bytes. The 429s of ingress-nginx are read from the fields found on the way;
      // only the others are decoded and parsed.
      if (checked++ === HINTS_AFTER) hints = chunkHints(chunk, lineStart, last);
      const quick = quickNginxStatus(chunk, lineStart, end, hints, this.fields);
      if (quick !== -1 && quick % QUICK_INGRESS !== 429) analyzer.notLimited(quick);
      else if (quick === 429 + QUICK_INGRESS) analyzer.parsedCandidate(ingressRequest(chunk, lineStart, this.fields, 429));
      else analyzer.candidate(chunk.toString('utf8', lineStart, end));
      hit = finder.next(lineEnd + 1);
    }
  }
}
