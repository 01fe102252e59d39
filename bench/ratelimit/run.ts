/**
 * Benchmark: `ratelimit top`'s counter against the runbook's own pipeline on the same file.
 *
 *   npx tsx bench/ratelimit/run.ts [--size-gb 1] [--rounds 3] [--noise-share 0,0.1,0.25,0.5] [--threads N] [--keep] [--nice -10]
 *
 * For each share of noise lines:
 * 1. Generates a realistic ingress-nginx access log of --size-gb GB in a temporary directory:
 *    about 2% HTTP 429s, a dozen heavy offenders (IPv4 and IPv6) and a long tail of clients. On
 *    that share of the other lines the characters "429" appear elsewhere (a user agent
 *    `build/429`, a byte count, a request id, an upstream port), as in real logs; on the rest
 *    they do not appear at all. The pipeline's `grep 429` counts every such line, so its answer
 *    is the truth only at share 0. The generator keeps the exact per-client 429 counts (the
 *    truth) to check both answers.
 * 2. Runs, alternately, --rounds times each:
 *      bash -c "grep 429 FILE | awk '{print $1}' | sort | uniq -c | sort -rn | head"
 *      node count.js FILE   (the bot's parser and counter: bench/ratelimit/count.ts and the
 *                            modules it imports, transpiled to JavaScript once beforehand; it
 *                            counts on --threads threads, default the cores available)
 *    each under /usr/bin/time for CPU time and peak memory.
 * 3. Prints one row per share: wall times, the ratio (target: the bot at >= 2x the pipeline's
 *    throughput), CPU times, the bot's peak RSS (target < 100 MB) and whether each top-10
 *    equals the truth; then both top-10 lists of the last share beside the truth.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}
const sizeGb = Number(flag('size-gb') ?? '1');
const rounds = Math.max(1, Number(flag('rounds') ?? '3'));
const noiseShares = (flag('noise-share') ?? '0,0.1,0.25,0.5').split(',').map(Number);
if (noiseShares.some((share) => !(share >= 0 && share <= 1))) throw new Error('--noise-share takes shares between 0 and 1, e.g. 0,0.25,0.5');
const threads = flag('threads');
const keep = process.argv.includes('--keep');
/** Run both measured commands at this scheduling priority (e.g. -10, as root) on a busy machine. */
const nice = flag('nice') === undefined ? undefined : Number(flag('nice'));
if (!(sizeGb > 0)) throw new Error('--size-gb must be a positive number');

// ---------------------------------------------------------------------------------------------
// Data

/** mulberry32: small, fast, seeded (the same file every run). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(20240611);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

const RESERVED_FIRST_OCTETS = new Set([0, 10, 100, 127, 169, 172, 192, 198, 203]);
function publicIpv4(): string {
  for (;;) {
    const a = 1 + int(223);
    if (RESERVED_FIRST_OCTETS.has(a)) continue;
    const ip = `${a}.${int(256)}.${int(256)}.${1 + int(254)}`;
    return ip;
  }
}
function ipv6(): string {
  // Eight non-zero four-digit groups: already the canonical (RFC 5952) text.
  const groups = ['2a02', (0x1000 + int(0xefff)).toString(16)];
  for (let i = 0; i < 6; i++) groups.push((0x1000 + int(0xefff)).toString(16));
  return groups.join(':');
}
function clean(make: () => string): string {
  for (;;) {
    const value = make();
    if (!value.includes('429')) return value;
  }
}

const background: string[] = [];
for (let i = 0; i < 180_000; i++) background.push(clean(publicIpv4));
for (let i = 0; i < 20_000; i++) background.push(clean(ipv6));
// Heavy offenders: share of all 429s, well apart so the top 10 has no ties.
const heavyShares = [0.14, 0.11, 0.09, 0.075, 0.06, 0.05, 0.04, 0.032, 0.025, 0.02, 0.015, 0.012];
const heavy = heavyShares.map((_, i) => (i % 3 === 2 ? clean(ipv6) : clean(publicIpv4)));
const heavyCumulative: number[] = [];
heavyShares.reduce((sum, share) => {
  heavyCumulative.push(sum + share);
  return sum + share;
}, 0);

const PATHS_429 = ['/login', '/auth/github', '/auth/google', '/api/deployments', '/api/token'];
const PATHS = ['/', '/health', '/api/projects', '/api/deployments', '/static/app.js', '/static/app.css', '/login', '/auth/callback', '/api/users/me', '/favicon.ico'];
const METHODS = ['GET', 'GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'curl/8.8.0',
  'python-requests/2.32.3',
  'Go-http-client/1.1',
  'kube-probe/1.30',
];
const REFERERS = ['-', '-', '-', 'https://app.autostack.example/', 'https://app.autostack.example/dashboard'];
const STATUSES: Array<[number, number]> = [
  [200, 0.82],
  [304, 0.05],
  [301, 0.03],
  [404, 0.04],
  [401, 0.02],
  [500, 0.005],
  [502, 0.005],
  [201, 0.01],
];
const statusTotal = STATUSES.reduce((s, [, w]) => s + w, 0);
function otherStatus(): number {
  let r = random() * statusTotal;
  for (const [status, weight] of STATUSES) {
    r -= weight;
    if (r <= 0) return status;
  }
  return 200;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
function timeLocal(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
const hex8 = () => int(2 ** 32).toString(16).padStart(8, '0');
/** $req_id: 32 hex digits. */
const hex32 = () => hex8() + hex8() + hex8() + hex8();

/** Where a noise line carries "429" (none: -1). */
const NOISE_KINDS = 4;

function line(ip: string, status: number, time: string, noiseKind = -1): string {
  const method = status === 429 ? pick(['GET', 'POST']) : pick(METHODS);
  const target = status === 429 ? pick(PATHS_429) : pick(PATHS) + (random() < 0.2 ? `?page=${1 + int(50)}` : '');
  const bytes = noiseKind === 0 ? 4290 + int(10) : status === 304 ? 0 : 100 + int(40_000);
  const reqLen = 200 + int(1500);
  const reqTime = (random() * 0.8).toFixed(3);
  const upstream = `10.0.${1 + int(3)}.${1 + int(250)}:${noiseKind === 1 ? 8429 : 8000}`;
  const upStatus = status === 429 ? 429 : status === 502 ? 502 : status;
  const agent = noiseKind === 2 ? `build/429 ${pick(AGENTS)}` : pick(AGENTS);
  const id = noiseKind === 3 ? hex8() + '429' + hex8().slice(3) + hex8() + hex8() : hex32();
  return `${ip} - - [${time}] "${method} ${target} HTTP/1.1" ${status} ${bytes} "${pick(REFERERS)}" "${agent}" ${reqLen} ${reqTime} [autostack-backend-8000] [] ${upstream} ${bytes} ${reqTime} ${upStatus} ${id}\n`;
}

interface Truth {
  counts: Map<string, number>;
  lines: number;
  total429: number;
  /** Lines that are not 429s but carry "429". */
  noiseLines: number;
}

function generate(file: string, bytesWanted: number, noiseShare: number): Truth {
  const fd = openSync(file, 'w');
  const counts = new Map<string, number>();
  let written = 0;
  let lines = 0;
  let total429 = 0;
  let noiseLines = 0;
  let buffer = '';
  const startMs = Date.UTC(2026, 10, 28, 2, 0, 0);
  // Spread over one hour: about 100k 429s per GB, well over the 100/min threshold.
  const estimatedLines = bytesWanted / 270;
  let lastSecond = -1;
  let time = '';
  while (written < bytesWanted) {
    const ms = startMs + Math.floor((lines / estimatedLines) * 3_600_000);
    const second = Math.floor(ms / 1000);
    if (second !== lastSecond) {
      lastSecond = second;
      time = timeLocal(ms);
    }
    let text: string;
    if (random() < 0.02) {
      const r = random();
      const heavyIndex = heavyCumulative.findIndex((c) => r < c);
      const ip = heavyIndex === -1 ? pick(background) : heavy[heavyIndex]!;
      text = line(ip, 429, time);
      counts.set(ip, (counts.get(ip) ?? 0) + 1);
      total429++;
    } else {
      const ip = random() < 0.05 ? pick(heavy) : pick(background);
      const status = otherStatus();
      if (random() < noiseShare) {
        text = line(ip, status, time, int(NOISE_KINDS));
        noiseLines++;
      } else {
        text = line(ip, status, time);
        while (text.includes('429')) text = line(ip, status, time);
      }
    }
    buffer += text;
    lines++;
    if (buffer.length >= 8 << 20) {
      written += writeSync(fd, buffer);
      buffer = '';
    }
  }
  if (buffer) written += writeSync(fd, buffer);
  closeSync(fd);
  return { counts, lines, total429, noiseLines };
}

// ---------------------------------------------------------------------------------------------
// Build: the counter and everything it imports, as JavaScript (same source, no loader at run time)

/** Transpiles `entry` and what it imports (plus `extra` modules loaded by URL, e.g. workers). */
function build(entry: string, outDir: string, extra: string[] = []): string {
  const done = new Set<string>();
  const queue = [entry, ...extra];
  while (queue.length > 0) {
    const source = queue.pop()!;
    if (done.has(source)) continue;
    done.add(source);
    const text = readFileSync(source, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'(\.[^']+\.ts)'/gm)) queue.push(path.resolve(path.dirname(source), m[1]!));
    const js = ts.transpileModule(text, {
      fileName: source,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, rewriteRelativeImportExtensions: true, verbatimModuleSyntax: true },
    }).outputText;
    const target = path.join(outDir, path.relative(root, source)).replace(/\.ts$/, '.js');
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, js);
  }
  writeFileSync(path.join(outDir, 'package.json'), '{"type":"module"}\n');
  return path.join(outDir, path.relative(root, entry)).replace(/\.ts$/, '.js');
}

// ---------------------------------------------------------------------------------------------
// Runs

interface Run {
  wallMs: number;
  /** User + system CPU of the process and its children. */
  cpuMs: number;
  maxRssKb: number;
  top: Array<[ip: string, count: number]>;
  extra?: Record<string, unknown>;
}

function timed(command: string, args: string[], timeFile: string): { wallMs: number; cpuMs: number; stdout: string; maxRssKb: number } {
  const niced = nice === undefined ? [] : ['nice', '-n', String(nice)];
  const argv = [...niced, '/usr/bin/time', '-f', '%U %S %M', '-o', timeFile, command, ...args];
  const started = process.hrtime.bigint();
  const out = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20, cwd: root });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (out.status !== 0) throw new Error(`${command} failed (${out.status}): ${out.stderr}`);
  const [user, system, rss] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { wallMs, cpuMs: (user! + system!) * 1000, stdout: out.stdout, maxRssKb: rss! };
}

function runPipeline(file: string, timeFile: string): Run {
  const quoted = `'${file.replace(/'/g, `'\\''`)}'`;
  const { wallMs, cpuMs, stdout, maxRssKb } = timed('bash', ['-c', `grep 429 ${quoted} | awk '{print $1}' | sort | uniq -c | sort -rn | head`], timeFile);
  const top = stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((row) => {
      const [count, ip] = row.trim().split(/\s+/);
      return [ip!, Number(count)] as [string, number];
    });
  return { wallMs, cpuMs, maxRssKb, top };
}

function runBot(counter: string, file: string, timeFile: string): Run {
  const args = [counter, file, ...(threads === undefined ? [] : ['--threads', threads])];
  const { wallMs, cpuMs, stdout, maxRssKb } = timed(process.execPath, args, timeFile);
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
    elapsedMs: number;
    bytes: number;
    candidates: number;
    total429: number;
    unparseable: number;
    exact: boolean;
    distinctClients: number;
    top: Array<{ ip: string; count: number; error: number }>;
    maxRssKb: number;
  };
  return {
    wallMs,
    cpuMs,
    maxRssKb: Math.max(maxRssKb, result.maxRssKb),
    top: result.top.map((t) => [t.ip, t.count]),
    extra: { elapsedMs: result.elapsedMs, candidates: result.candidates, total429: result.total429, unparseable: result.unparseable, exact: result.exact, selfMaxRssKb: result.maxRssKb, topErrors: result.top.map((t) => t.error) },
  };
}

function sortTop(top: Array<[string, number]>): Array<[string, number]> {
  return [...top].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
}
const sameTop = (a: Array<[string, number]>, b: Array<[string, number]>) => JSON.stringify(sortTop(a)) === JSON.stringify(sortTop(b));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// ---------------------------------------------------------------------------------------------

const dir = mkdtempSync(path.join(tmpdir(), 'ratelimit-bench-'));
const file = path.join(dir, 'access.log');
const timeFile = path.join(dir, 'time.txt');
// Inside the checkout so the transpiled modules resolve node_modules (.tmp/ is not committed).
const buildDir = path.join(root, '.tmp', `bench-ratelimit-${process.pid}`);
const mbText = (ms: number, mb: number) => `${(mb / (ms / 1000)).toFixed(0)} MB/s`;
const medianRun = (runs: Run[]) => runs.find((r) => r.wallMs === median(runs.map((x) => x.wallMs)))!;
try {
  const counter = build(path.join(here, 'count.ts'), buildDir, [path.join(root, 'commands/incident/ratelimit/file-worker.ts')]);
  const bytesWanted = Math.round(sizeGb * 1024 ** 3);
  const rows: string[] = [];
  const loads: string[] = [];
  let last: { pipeline: Run; bot: Run; truthTop: Array<[string, number]>; share: number } | undefined;
  const header = `${'noise share'.padEnd(12)}${'pipeline'.padEnd(20)}${'bot'.padEnd(20)}${'ratio'.padEnd(8)}${'CPU pipe/bot'.padEnd(15)}${'bot peak RSS'.padEnd(14)}${'top-10 = truth (pipe/bot)'.padEnd(28)}target`;
  for (const share of noiseShares) {
    const genStart = Date.now();
    const truth = generate(file, bytesWanted, share);
    const size = statSync(file).size;
    const mb = size / 1024 ** 2;
    console.log(`share ${share}: generated ${mb.toFixed(0)} MB (${truth.lines.toLocaleString('en-US')} lines, ${truth.total429.toLocaleString('en-US')} 429s, ${truth.noiseLines.toLocaleString('en-US')} other lines with "429" = ${((truth.noiseLines / (truth.lines - truth.total429)) * 100).toFixed(1)}%) in ${((Date.now() - genStart) / 1000).toFixed(1)}s`);
    const truthTop = sortTop([...truth.counts.entries()]);
    // Warm the page cache once so neither side pays for the first read.
    spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] });
    const pipelineRuns: Run[] = [];
    const botRuns: Run[] = [];
    for (let i = 0; i < rounds; i++) {
      pipelineRuns.push(runPipeline(file, timeFile));
      botRuns.push(runBot(counter, file, timeFile));
    }
    loads.push(loadavg().map((l) => l.toFixed(2)).join(' '));
    const pipeline = medianRun(pipelineRuns);
    const bot = medianRun(botRuns);
    const ratio = pipeline.wallMs / bot.wallMs;
    const peakMb = Math.max(...botRuns.map((r) => r.maxRssKb)) / 1024;
    const botExact = botRuns.every((r) => sameTop(r.top, truthTop));
    const pipelineExact = pipelineRuns.every((r) => sameTop(r.top, truthTop));
    const cpu = `${(median(pipelineRuns.map((r) => r.cpuMs)) / 1000).toFixed(2)}/${(median(botRuns.map((r) => r.cpuMs)) / 1000).toFixed(2)} s`;
    const met = ratio >= 2 && peakMb < 100 && botExact;
    rows.push(
      `${`${(share * 100).toFixed(0)}%`.padEnd(12)}${`${(pipeline.wallMs / 1000).toFixed(2)} s ${mbText(pipeline.wallMs, mb)}`.padEnd(20)}${`${(bot.wallMs / 1000).toFixed(2)} s ${mbText(bot.wallMs, mb)}`.padEnd(20)}${`${ratio.toFixed(2)}x`.padEnd(8)}${cpu.padEnd(15)}${`${peakMb.toFixed(1)} MB`.padEnd(14)}${`${pipelineExact}/${botExact}`.padEnd(28)}${met ? 'met' : 'NOT met'} (>= 2x, < 100 MB, exact)`,
    );
    console.log(`  runs (wall ms) pipeline: ${pipelineRuns.map((r) => r.wallMs.toFixed(0)).join(', ')}; bot: ${botRuns.map((r) => r.wallMs.toFixed(0)).join(', ')}; bot 429s ${(bot.extra!.total429 as number).toLocaleString('en-US')} (truth ${truth.total429.toLocaleString('en-US')}), top-10 errors ${(bot.extra!.topErrors as number[]).join(',')}`);
    last = { pipeline, bot, truthTop, share };
  }
  console.log('');
  console.log(`File: ${sizeGb} GB ingress-nginx access log per share; median of ${rounds} run(s) each${nice === undefined ? '' : ` at nice ${nice}`}; bot threads ${threads ?? 'default'}; locale ${process.env.LC_ALL ?? process.env.LANG ?? '(unset: C)'}; node ${process.version}`);
  console.log(header);
  for (const row of rows) console.log(row);
  console.log(`Load average after each share: ${loads.join(' | ')} (${cpus().length} CPUs)`);
  if (last) {
    console.log('');
    const p = sortTop(last.pipeline.top);
    const b = sortTop(last.bot.top);
    const text = (t: [string, number] | undefined) => (t ? `${String(t[1]).padStart(6)} ${t[0]}` : '');
    const width = Math.max(20, ...[...p, ...b, ...last.truthTop].map((t) => text(t).length)) + 2;
    console.log(`Top 10 at noise share ${(last.share * 100).toFixed(0)}%:`);
    console.log(`  ${'pipeline'.padEnd(width)}${'bot'.padEnd(width)}truth`);
    for (let i = 0; i < 10; i++) console.log(`  ${text(p[i]).padEnd(width)}${text(b[i]).padEnd(width)}${text(last.truthTop[i])}`);
  }
} finally {
  rmSync(buildDir, { recursive: true, force: true });
  if (keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
