import { Readable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, RateLimitAnalyzer } from '../../../commands/incident/ratelimit/analyzer.ts';
import { SpaceSaving } from '../../../commands/incident/ratelimit/heavy-hitters.ts';
import { MinuteRing } from '../../../commands/incident/ratelimit/minute-ring.ts';
import { nginxTime } from './log-lines.ts';

/** Feeds text to a fresh analyzer in chunks of `chunk` bytes (lines cut anywhere). */
async function analyze(text: string, options: { trustForwardedFor?: boolean; chunk?: number; clientCapacity?: number; clientMinuteCapacity?: number } = {}) {
  const analyzer = new RateLimitAnalyzer({ trustForwardedFor: options.trustForwardedFor ?? false, clientCapacity: options.clientCapacity, clientMinuteCapacity: options.clientMinuteCapacity });
  const bytes = Buffer.from(text);
  const size = options.chunk ?? 7;
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  await analyzer.consume(Readable.from(chunks));
  return analyzer.summary(10, 5);
}

const T0 = Date.UTC(2026, 10, 28, 2, 0, 0);

type Format = 'ingress' | 'uvicorn' | 'json';
function line(format: Format, ip: string, status: number, pathText: string, ms: number): string {
  switch (format) {
    case 'ingress':
      return `${ip} - - [${nginxTime(ms)}] "GET ${pathText} HTTP/1.1" ${status} 4290 "-" "Mozilla/5.0" 429 0.429 [autostack-backend-8000] [] 10.0.0.9:8000 4290 0.429 ${status} 4291abc`;
    case 'uvicorn':
      // uvicorn prints IPv6 peers without brackets: "2001:db8::7:40429".
      return `${new Date(ms).toISOString()} INFO:     ${ip}:40429 - "GET ${pathText} HTTP/1.1" ${status} ${status === 429 ? 'Too Many Requests' : 'OK'}`;
    case 'json':
      return JSON.stringify({ time: new Date(ms).toISOString(), level: 'info', status, client_ip: ip, path: pathText, bytes: 4290 });
  }
}

/**
 * A log with known answers: per client 429 counts, non-429 lines that contain "429" elsewhere
 * (bytes, request length, ids, paths) and lines that are not access logs.
 */
function knownLog(format: Format) {
  const plan: Array<[ip: string, count429: number]> = [
    ['203.0.113.7', 57],
    ['2001:db8::7', 31],
    ['198.51.100.23', 12],
    ['192.0.2.200', 5],
  ];
  const lines: string[] = [];
  let i = 0;
  for (const [ip, count] of plan) {
    for (let n = 0; n < count; n++) {
      const minute = i % 3;
      lines.push(line(format, ip, 429, n % 2 === 0 ? '/login?next=/x' : '/auth/github', T0 + minute * 60_000 + (i % 50) * 1000));
      lines.push(line(format, ip, 200, '/items/429', T0 + minute * 60_000));
      i++;
    }
  }
  lines.push('Traceback (most recent call last): rate_limit exceeded, returning 429');
  lines.push('');
  lines.push('plain text without the status code');
  return { text: lines.join('\n') + '\n', total: 105 };
}

describe('counting 429s per client, exactly, in each log format', () => {
  for (const format of ['ingress', 'uvicorn', 'json'] as const) {
    it(`${format}: exact counts, shares of the total, paths and per-minute buckets`, async () => {
      const { text, total } = knownLog(format);
      const summary = await analyze(text);
      expect(summary.total429).toBe(total);
      expect(summary.offenders.map((o) => [o.key, o.count, o.error])).toEqual([
        ['203.0.113.7', 57, 0],
        ['2001:db8::7', 31, 0],
        ['198.51.100.23', 12, 0],
        ['192.0.2.200', 5, 0],
      ]);
      expect(summary.exact).toBe(true);
      expect(summary.distinctClients).toBe(4);
      expect(summary.paths.map((p) => [p.key, p.count])).toEqual([
        ['/login', 54],
        ['/auth/github', 51],
      ]);
      // i % 3 spreads the 105 429s over three minutes: 35 each.
      expect(summary.perMinute).toEqual([
        { minuteMs: T0, count: 35 },
        { minuteMs: T0 + 60_000, count: 35 },
        { minuteMs: T0 + 120_000, count: 35 },
      ]);
      // Each offender's share of those minutes (the chart's lines): i runs on across clients.
      expect(summary.offenderMinutes.map((o) => [o.key, o.minutes.map((m) => [m.minuteMs - T0, m.count])])).toEqual([
        ['203.0.113.7', [[0, 19], [60_000, 19], [120_000, 19]]],
        ['2001:db8::7', [[0, 11], [60_000, 10], [120_000, 10]]],
        ['198.51.100.23', [[0, 4], [60_000, 4], [120_000, 4]]],
        ['192.0.2.200', [[0, 1], [60_000, 2], [120_000, 2]]],
      ]);
      expect(summary.offenderMinutesExact).toBe(true);
      expect(summary.unparseable).toBe(1);
      expect(summary.withoutTime).toBe(0);
      expect(summary.bytes).toBe(Buffer.byteLength(text));
    });
  }

  it('counts the same however the bytes are split into chunks', async () => {
    const { text } = knownLog('ingress');
    for (const chunk of [1, 3, 64, 4096, 1 << 20]) {
      const summary = await analyze(text, { chunk });
      expect(summary.offenders.map((o) => o.count)).toEqual([57, 31, 12, 5]);
    }
  });

  it('reads pod-prefixed lines interleaved from several pods', async () => {
    const lines = [
      `[backend-a] ${line('uvicorn', '192.0.2.1', 429, '/login', T0)}`,
      `[backend-b] ${line('uvicorn', '192.0.2.1', 429, '/login', T0)}`,
      `[backend-b] ${line('json', '192.0.2.2', 429, '/login', T0)}`,
      `[backend-a] ${line('ingress', '192.0.2.1', 200, '/login', T0)}`,
    ];
    const summary = await analyze(lines.join('\n'));
    expect(summary.offenders.map((o) => [o.key, o.count])).toEqual([
      ['192.0.2.1', 2],
      ['192.0.2.2', 1],
    ]);
    expect(summary.formats).toEqual({ uvicorn: 2, json: 1, 'ingress-nginx': 1 });
  });

  it('counts clients from X-Forwarded-For only when trusted', async () => {
    const lines = [
      `10.0.3.4 - - [${nginxTime(T0)}] "GET /login HTTP/1.1" 429 0 "-" "ua" "198.51.100.9, 10.0.0.1"`,
      `10.0.3.4 - - [${nginxTime(T0)}] "GET /login HTTP/1.1" 429 0 "-" "ua" "198.51.100.9"`,
      `10.0.3.4 - - [${nginxTime(T0)}] "GET /login HTTP/1.1" 429 0 "-" "ua" "2001:db8::42"`,
    ].join('\n');
    const untrusted = await analyze(lines);
    expect(untrusted.offenders.map((o) => [o.key, o.count])).toEqual([['10.0.3.4', 3]]);
    expect(untrusted.forwarded).toBe(3);
    const trusted = await analyze(lines, { trustForwardedFor: true });
    expect(trusted.offenders.map((o) => [o.key, o.count])).toEqual([
      ['198.51.100.9', 2],
      ['2001:db8::42', 1],
    ]);
  });

  it('cuts overlong lines instead of keeping them', async () => {
    const long = `203.0.113.9 - - [${nginxTime(T0)}] "GET /${'a'.repeat(MAX_LINE_BYTES * 2)} HTTP/1.1" 429 0 "-" "-"`;
    const summary = await analyze(`${long}\n${line('ingress', '203.0.113.8', 429, '/', T0)}\n`, { chunk: 1000 });
    expect(summary.oversized).toBe(1);
    expect(summary.offenders.map((o) => [o.key, o.count])).toEqual([['203.0.113.8', 1]]);
  });

  it('reads a file through the finder scratch window (the benchmark path) with the same answer', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ratelimit-'));
    try {
      const file = path.join(dir, 'access.log');
      writeFileSync(file, knownLog('json').text);
      const analyzer = new RateLimitAnalyzer({ trustForwardedFor: false });
      await analyzer.consumeFile(file);
      expect(analyzer.summary().offenders.map((o) => o.count)).toEqual([57, 31, 12, 5]);
      const head = new RateLimitAnalyzer({ trustForwardedFor: false });
      await head.consumeFile(file, { limitBytes: 1000 });
      expect(head.summary().bytes).toBe(1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('marks counts as bounds once more clients than the table holds were seen', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) lines.push(line('json', '203.0.113.1', 429, '/login', T0));
    for (let i = 0; i < 300; i++) lines.push(line('json', `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`, 429, '/login', T0));
    const summary = await analyze(lines.join('\n'), { clientCapacity: 50 });
    expect(summary.exact).toBe(false);
    expect(summary.distinctClients).toBe(50);
    expect(summary.offenders[0]).toEqual({ key: '203.0.113.1', count: 40, error: 0 });
  });

  it('says when the offenders\' per-minute counts are bounds, and keeps the heavy one', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) lines.push(line('json', '203.0.113.1', 429, '/login', T0 + 60_000));
    for (let i = 0; i < 300; i++) lines.push(line('json', `198.51.100.${(i % 250) + 1}`, 429, '/login', T0 + (i % 2) * 60_000));
    const summary = await analyze(lines.join('\n'), { clientMinuteCapacity: 50 });
    expect(summary.offenderMinutesExact).toBe(false);
    expect(summary.offenderMinutes[0]).toEqual({ key: '203.0.113.1', minutes: [{ minuteMs: T0, count: 0 }, { minuteMs: T0 + 60_000, count: 40 }] });
  });
});

describe('SpaceSaving', () => {
  it('is exact while the distinct keys fit', () => {
    const table = new SpaceSaving(5);
    const truth = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const key = `k${(i * 7919) % 5}`;
      table.add(key);
      truth.set(key, (truth.get(key) ?? 0) + 1);
    }
    expect(table.exact).toBe(true);
    expect(table.total).toBe(1000);
    for (const [key, count] of truth) expect(table.get(key)).toEqual({ key, count, error: 0 });
  });

  it('never holds more than its capacity and keeps every heavy hitter with bounds around the truth', () => {
    const capacity = 20;
    const table = new SpaceSaving(capacity);
    const truth = new Map<string, number>();
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      // Three heavy keys (about 20%, 10%, 5%) and a tail of 5,000 keys.
      const r = next();
      const key = r < 0.2 ? 'heavy-a' : r < 0.3 ? 'heavy-b' : r < 0.35 ? 'heavy-c' : `tail-${Math.floor(next() * 5000)}`;
      table.add(key);
      truth.set(key, (truth.get(key) ?? 0) + 1);
      expect(table.size).toBeLessThanOrEqual(capacity);
    }
    expect(table.exact).toBe(false);
    expect(table.top(3).map((h) => h.key)).toEqual(['heavy-a', 'heavy-b', 'heavy-c']);
    for (const hit of table.top(capacity)) {
      const real = truth.get(hit.key)!;
      expect(hit.count).toBeGreaterThanOrEqual(real);
      expect(hit.count - hit.error).toBeLessThanOrEqual(real);
    }
    // Any key more frequent than total/capacity must be present.
    for (const [key, count] of truth) if (count > table.total / capacity) expect(table.get(key)).toBeDefined();
  });
});

describe('MinuteRing', () => {
  it('keeps the newest minutes within its slots and reports older counts separately', () => {
    const ring = new MinuteRing(3);
    for (let m = 0; m < 5; m++) for (let n = 0; n <= m; n++) ring.add(T0 + m * 60_000 + n);
    ring.add(T0); // minute 0 has left the ring
    expect(ring.series()).toEqual([
      { minuteMs: T0 + 2 * 60_000, count: 3 },
      { minuteMs: T0 + 3 * 60_000, count: 4 },
      { minuteMs: T0 + 4 * 60_000, count: 5 },
    ]);
    expect(ring.tooOld).toBe(1 + 2 + 1);
  });

  it('fills minutes without 429s with zero', () => {
    const ring = new MinuteRing(10);
    ring.add(T0);
    ring.add(T0 + 3 * 60_000);
    expect(ring.series().map((m) => m.count)).toEqual([1, 0, 0, 1]);
  });
});
