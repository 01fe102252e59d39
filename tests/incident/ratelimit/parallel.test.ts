import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { RateLimitAnalyzer } from '../../../commands/incident/ratelimit/analyzer.ts';
import { SpaceSaving } from '../../../commands/incident/ratelimit/heavy-hitters.ts';
import { analyzeFile, blockLines, countInWorker } from '../../../commands/incident/ratelimit/parallel.ts';
import { nginxTime } from './log-lines.ts';
import { QUICK_INGRESS, chunkHints, ingressRequest, newQuickFields, parseLogLine, quickNginxStatus } from '../../../commands/incident/ratelimit/parsers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'ratelimit-parallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 10, 28, 2, 0, 0);

/** A seeded generator: the same hostile log every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Every format the counter reads, with "429" on many lines that are not 429s (byte counts,
 * request times, ids, user agents, ports), CRLF endings, IPv6 clients, JSON lines, uvicorn lines
 * with Kubernetes timestamps, pod prefixes, colours, non-ASCII user agents and broken lines.
 */
function hostileLog(lines: number, seed: number, options: { ascii?: boolean; crlf?: boolean } = {}): string {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const clients = ['203.0.113.7', '2001:db8::7', '198.51.100.23', '192.0.2.200', '2001:db8:0:0:0:0:0:429', '::ffff:198.51.100.24', '192.0.2.42'];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const ms = T0 + Math.floor((i / lines) * 30 * 60_000);
    const ip = clients[int(clients.length)]!;
    const status = random() < 0.3 ? 429 : [200, 404, 301, 500][int(4)]!;
    const bytes = random() < 0.5 ? 4290 + int(9) : int(100_000);
    const agent = random() < 0.3 ? 'build/429' : random() < 0.1 && !options.ascii ? 'Mozilla/5.0 (Ünïcödé) 429' : 'curl/8.8.0';
    const id = `${int(2 ** 31).toString(16)}429${int(1000)}`;
    const eol = options.crlf ?? random() < 0.2 ? '\r' : '';
    const bracketed = ip.includes(':') ? `[${ip}]` : ip;
    let text: string;
    switch (int(8)) {
      case 0:
      case 1:
      case 2:
        text = `${ip} - - [${nginxTime(ms)}] "GET /login?next=/429 HTTP/1.1" ${status} ${bytes} "-" "${agent}" ${int(2000)} 0.${int(1000)} [autostack-backend-8000] [] 10.0.0.9:8429 ${bytes} 0.429 ${status} ${id}`;
        break;
      case 3:
        text = `${ip} - frank [${nginxTime(ms)}] "POST /auth/github HTTP/1.1" ${status} ${random() < 0.2 ? '-' : bytes} "https://example.org/429" "${agent}"${random() < 0.5 ? ` "198.51.100.${int(250)}, 10.0.0.1"` : ''}`;
        break;
      case 4:
        text = `${new Date(ms).toISOString()} INFO:     ${ip}:${40000 + int(9999)} - "GET /api/token HTTP/1.1" ${status} ${status === 429 ? 'Too Many Requests' : 'OK'}`;
        break;
      case 5:
        text = JSON.stringify({ time: new Date(ms).toISOString(), status, client_ip: ip, path: '/api/deployments/429', bytes, ua: agent });
        break;
      case 6:
        text = `[backend-${int(3)}] ${new Date(ms).toISOString()} ${ip} - - [${nginxTime(ms)}] "GET /login HTTP/1.1" ${options.ascii ? '' : '\x1b[31m'}${status}${options.ascii ? '' : '\x1b[0m'} ${bytes} "-" "${agent}"`;
        break;
      default:
        text = random() < 0.5 ? `${bracketed} - - [${nginxTime(ms)}] "GET / HTTP/1.1" ${status}${int(10)} ${bytes} "-" "x"` : `garbage 429 ${id}`;
    }
    out.push(text + eol);
  }
  return out.join('\n') + '\n';
}

function single(text: string, chunk: number) {
  const analyzer = new RateLimitAnalyzer({ trustForwardedFor: false });
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
  return analyzer.consume(Readable.from(chunks)).then(() => analyzer.summary(20, 10));
}

/** ingress-nginx 429 lines with every odd address, time and request the parser handles. */
function ingressVariants(): string[] {
  const addresses = ['203.0.113.7', '2001:DB8:0:0::7', '[2001:db8::7]', '::ffff:198.51.100.24', '010.0.0.1', '-', 'unknown', '203.0.113.7:443'];
  const times = [nginxTime(T0), '32/Foo/2026:02:00:00 +0000', '28/Nov/2026:02:00:00 -0130', 'ü8/Nov/2026:02:00:00 +0000'];
  const requests = ['GET /login?next=/429 HTTP/1.1', 'GET http://example.org/a/b?c HTTP/1.1', 'POST https://example.org HTTP/2.0', '-', '\x16\x03\x01', 'GET /ünï/cödé#x HTTP/1.1', `GET /${'a'.repeat(200)} HTTP/1.1`, 'get /lower HTTP/1.1', 'GET'];
  const out: string[] = [];
  for (const address of addresses)
    for (const time of times)
      for (const request of requests) {
        const line = `${address} - - [${time}] "${request}" 429 4290 "-" "build/429" 512 0.429 [autostack-backend-8000] [] 10.0.0.9:8429 4290 0.429 429 abc429`;
        out.push(line, `${line}\r`);
      }
  return out;
}

describe('reading the status of nginx lines from their bytes', () => {
  it('answers for plain nginx and ingress-nginx lines, and never differently from the parser', () => {
    const ingress = `203.0.113.7 - - [${nginxTime(T0)}] "GET / HTTP/1.1" 200 4290 "-" "build/429" 429 0.429 [x] [] 10.0.0.9:8000 4290 0.429 200 abc`;
    expect(quickNginxStatus(Buffer.from(ingress), 0, ingress.length)).toBe(200 + QUICK_INGRESS);
    const combined = `2001:db8::429 - - [${nginxTime(T0)}] "GET / HTTP/1.1" 404 - "-" "ua"\r`;
    expect(quickNginxStatus(Buffer.from(combined), 0, combined.length)).toBe(404);
    let ingressLines = 0;
    for (const text of [...hostileLog(3000, 7).split('\n'), ...hostileLog(1000, 8, { ascii: true }).split('\n'), ...ingressVariants()]) {
      const bytes = Buffer.from(text);
      const quick = quickNginxStatus(bytes, 0, bytes.length);
      // With the chunk's hints (pure ASCII, no CR) the shortcuts answer the same.
      const fields = newQuickFields();
      expect(quickNginxStatus(bytes, 0, bytes.length, chunkHints(bytes, 0, bytes.length), fields), text).toBe(quick);
      if (quick === -1) continue;
      const parsed = parseLogLine(text, { trustForwardedFor: false });
      expect(parsed, text).toBeDefined();
      expect([parsed!.status, parsed!.format], text).toEqual([quick % QUICK_INGRESS, quick >= QUICK_INGRESS ? 'ingress-nginx' : 'nginx']);
      // An ingress-nginx line's request read from the fields found is the parser's, whatever its status.
      if (quick >= QUICK_INGRESS) {
        ingressLines++;
        expect(ingressRequest(bytes, 0, fields, quick % QUICK_INGRESS), text).toEqual(parsed);
      }
    }
    expect(ingressLines).toBeGreaterThan(1000);
  });

  it('leaves prefixed, coloured, JSON and malformed lines to the parser', () => {
    const lines = [
      `[pod-a] 203.0.113.7 - - [${nginxTime(T0)}] "GET / HTTP/1.1" 200 1 "-" "ua"`,
      `2026-11-28T02:00:00Z 203.0.113.7 - - [${nginxTime(T0)}] "GET / HTTP/1.1" 200 1 "-" "ua"`,
      `203.0.113.7 - - [${nginxTime(T0)}] "GET / HTTP/1.1" \x1b[31m200\x1b[0m 1 "-" "ua"`,
      '{"status":200,"client_ip":"203.0.113.7"}',
      `203.0.113.7 - - [${nginxTime(T0)}] "GET / HTTP/1.1" 2000 1 "-" "ua"`,
      `203.0.113.7 - - [${nginxTime(T0)}] "GET / HTTP/1.1" 200 1 "-" "ua" rest\rmore`,
      `203.0.113.7\u00a0x - - [${nginxTime(T0)}] "GET / HTTP/1.1" 200 1 "-" "ua"`,
    ];
    for (const text of lines) expect(quickNginxStatus(Buffer.from(text), 0, Buffer.byteLength(text)), text).toBe(-1);
  });
});

describe('counting a file on several threads', () => {
  for (const [name, options] of [
    ['any bytes', {}],
    ['ASCII, LF', { ascii: true, crlf: false }],
    ['ASCII, CRLF', { ascii: true, crlf: true }],
  ] as const) {
  it(`gives the single-threaded answer on a hostile log cut at every kind of boundary (${name})`, async () => {
    const text = hostileLog(6000, 1, options);
    const file = path.join(dir, 'hostile.log');
    writeFileSync(file, text);
    const reference = await single(text, 7);
    // The counter's own file reader, one thread.
    const oneThread = await analyzeFile(file, { trustForwardedFor: false }, { threads: 1 });
    expect(oneThread.summary(20, 10)).toEqual(reference);
    const bytes = Buffer.from(text);
    for (const [threads, blockBytes] of [[2, 64], [3, 997], [5, 65_536]] as const) {
      // The blocks' lines cover the file once, in order, each starting right after a newline.
      const fd = openSync(file, 'r');
      let covered = 0;
      try {
        for (let index = 0; index * blockBytes < bytes.length; index++) {
          const lines = blockLines(fd, index, blockBytes, bytes.length);
          expect(lines.start).toBe(covered);
          if (lines.start > 0 && lines.start < bytes.length) expect(bytes[lines.start - 1]).toBe(0x0a);
          covered = lines.end;
        }
      } finally {
        closeSync(fd);
      }
      expect(covered).toBe(bytes.length);
      const parallel = await analyzeFile(file, { trustForwardedFor: false }, { threads, minBytes: 0, blockBytes });
      expect(parallel.summary(20, 10)).toEqual(reference);
    }
    expect(reference.total429).toBeGreaterThan(1000);
    expect(reference.formats['ingress-nginx']).toBeGreaterThan(0);
    expect(reference.formats.json).toBeGreaterThan(0);
    expect(reference.unparseable).toBeGreaterThan(0);
  });
  }

  it('merges blocks claimed in turn by several counters, and a worker thread counts every block it claims', async () => {
    const text = hostileLog(3000, 2);
    const file = path.join(dir, 'claimed.log');
    writeFileSync(file, text);
    const reference = await single(text, 11);
    const size = Buffer.byteLength(text);
    const blockBytes = 1500;
    // Three counters taking blocks in turn, as threads do when they finish at different times.
    const counters = [0, 1, 2].map(() => new RateLimitAnalyzer({ trustForwardedFor: false }));
    const fd = openSync(file, 'r');
    try {
      for (let index = 0; index * blockBytes < size; index++) {
        const lines = blockLines(fd, index, blockBytes, size);
        await counters[index % 3]!.consumeRange(fd, lines.start, lines.end - lines.start);
      }
    } finally {
      closeSync(fd);
    }
    const merged = new RateLimitAnalyzer({ trustForwardedFor: false });
    for (const counter of counters) merged.merge(counter.state());
    expect(merged.summary(20, 10)).toEqual(reference);
    // A worker thread alone claims every block.
    const work = { file, size, blockBytes, next: new Int32Array(new SharedArrayBuffer(4)) };
    const state = await countInWorker(work, { trustForwardedFor: false });
    expect(Atomics.load(work.next, 0)).toBeGreaterThanOrEqual(Math.ceil(size / blockBytes));
    const fromWorker = new RateLimitAnalyzer({ trustForwardedFor: false });
    fromWorker.merge(state);
    expect(state.bytes).toBe(size);
    expect(fromWorker.summary(20, 10)).toEqual(reference);
  });

  it('counts a last line without a newline and a file with fewer lines than threads', async () => {
    const file = path.join(dir, 'short.log');
    const text = hostileLog(3, 3).trimEnd();
    writeFileSync(file, text);
    const parallel = await analyzeFile(file, { trustForwardedFor: false }, { threads: 8, minBytes: 0, blockBytes: 100 });
    expect(parallel.summary(20, 10)).toEqual(await single(text, 5));
  });
});

describe('merging client tables', () => {
  it('keeps upper and lower bounds around the truth when the parts overflowed', () => {
    const random = rng(11);
    const truth = new Map<string, number>();
    const parts = [new SpaceSaving(30), new SpaceSaving(30)];
    for (let i = 0; i < 20_000; i++) {
      const r = random();
      const key = r < 0.15 ? 'heavy-a' : r < 0.25 ? 'heavy-b' : `tail-${Math.floor(random() * 2000)}`;
      parts[i % 7 < 3 ? 0 : 1]!.add(key);
      truth.set(key, (truth.get(key) ?? 0) + 1);
    }
    const [merged, other] = parts as [SpaceSaving, SpaceSaving];
    merged.merge({ entries: other.entriesList(), evictions: other.evictions, total: other.total });
    expect(merged.size).toBe(30);
    expect(merged.exact).toBe(false);
    expect(merged.total).toBe(20_000);
    for (const entry of merged.entriesList()) {
      const count = truth.get(entry.key) ?? 0;
      expect(entry.count).toBeGreaterThanOrEqual(count);
      expect(entry.count - entry.error).toBeLessThanOrEqual(count);
    }
    expect(merged.top(2).map((e) => e.key)).toEqual(['heavy-a', 'heavy-b']);
  });

  it('keeps the largest counts past the capacity, merges the same states alike, and stays a working table', () => {
    const merged = () => {
      const table = new SpaceSaving(4);
      for (const [key, times] of [['d', 5], ['x', 2], ['b', 2], ['c', 2]] as const) for (let i = 0; i < times; i++) table.add(key);
      table.merge({ entries: [{ key: 'a', count: 2, error: 0 }, { key: 'e', count: 9, error: 0 }], evictions: 0, total: 11 });
      return table;
    };
    const table = merged();
    // Six keys for four places: e 9 and d 5 stay, and two of the four 2s.
    const top = table.top(10);
    expect(top.slice(0, 2)).toEqual([
      { key: 'e', count: 9, error: 0 },
      { key: 'd', count: 5, error: 0 },
    ]);
    expect(top.slice(2).map((e) => e.count)).toEqual([2, 2]);
    expect(top.slice(2).every((e) => ['a', 'b', 'c', 'x'].includes(e.key))).toBe(true);
    expect(table.evictions).toBe(2);
    expect(table.exact).toBe(false);
    expect(merged().top(10)).toEqual(top);
    // The rebuilt heap still evicts its smallest: a new key replaces one of the 2s and inherits it.
    const kept = top.slice(2).map((e) => e.key);
    table.add('f');
    expect(table.get('f')).toEqual({ key: 'f', count: 3, error: 2 });
    expect(kept.filter((key) => table.get(key) === undefined)).toHaveLength(1);
    expect(table.size).toBe(4);
  });
});
