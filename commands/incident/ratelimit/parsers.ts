/**
 * Access log line parsers: ingress-nginx, plain nginx (combined and the "main" format with
 * X-Forwarded-For), uvicorn and JSON lines. Each returns the client, the status, the path (never
 * the query string: it may carry codes and tokens) and the request time when the line has one.
 *
 * Lines may carry prefixes added on the way: "[pod] " (several pods interleaved) and the RFC 3339
 * timestamp Kubernetes adds with `timestamps=true`; both are removed first.
 *
 * X-Forwarded-For is used only when the proxy in front is trusted (config.rateLimit.trustForwardedFor):
 * then the client is the first (leftmost) address of the list, the one the first proxy saw. Without
 * trust, or when that first entry is not an address, the peer address of the line is the client.
 */
import { isAscii } from 'node:buffer';
import { normalizeIp, normalizePeer } from './address.ts';

export type LogFormat = 'ingress-nginx' | 'nginx' | 'uvicorn' | 'json';

export interface ParsedRequest {
  format: LogFormat;
  /** Canonical client address; undefined when the line names none (e.g. uvicorn "-"). */
  ip: string | undefined;
  status: number;
  /** Path without query string or fragment, at most 120 characters; "-" when unknown. */
  path: string;
  /** Request time (ms since epoch) from the line itself or the Kubernetes timestamp prefix. */
  timeMs: number | undefined;
  /** The line carried an X-Forwarded-For value (used or not). */
  forwarded: boolean;
}

export interface ParseOptions {
  trustForwardedFor: boolean;
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

// Consecutive lines mostly carry the same second: remember the last one.
let lastTimeText = '';
let lastTimeMs: number | undefined;

/** nginx $time_local: "10/Oct/2000:13:55:36 -0700". */
export function parseNginxTime(text: string): number | undefined {
  if (text === lastTimeText) return lastTimeMs;
  const ms = parseNginxTimeUncached(text);
  lastTimeText = text;
  lastTimeMs = ms;
  return ms;
}

function parseNginxTimeUncached(text: string): number | undefined {
  const m = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) return undefined;
  const month = MONTHS[m[2]!];
  if (month === undefined) return undefined;
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  const offsetMinutes = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === '-' ? -1 : 1);
  return utc - offsetMinutes * 60_000;
}

const RFC3339_PREFIX = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) /;
/** "[pod-name] " or "[pod/name/container] ": what multi-pod log output puts first. No ":" so "[::1]" is not a pod. */
const POD_PREFIX = /^\[[A-Za-z0-9][A-Za-z0-9._/-]*\] /;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

export interface StrippedLine {
  rest: string;
  /** From the Kubernetes timestamp prefix, when there was one. */
  timeMs: number | undefined;
}

/** Removes the pod and Kubernetes timestamp prefixes (in either order) and terminal colours. */
export function stripPrefixes(line: string): StrippedLine {
  let rest = line.endsWith('\r') ? line.slice(0, -1) : line;
  let timeMs: number | undefined;
  for (let i = 0; i < 2; i++) {
    const pod = rest.charCodeAt(0) === 0x5b /* [ */ ? POD_PREFIX.exec(rest) : null;
    if (pod) rest = rest.slice(pod[0].length);
    const ts = rest.charCodeAt(4) === 0x2d /* - */ && rest.charCodeAt(10) === 0x54 /* T */ ? RFC3339_PREFIX.exec(rest) : null;
    if (ts) {
      const parsed = Date.parse(ts[1]!);
      if (!Number.isNaN(parsed)) timeMs = parsed;
      rest = rest.slice(ts[0].length);
    }
    if (!pod && !ts) break;
  }
  if (rest.includes('\x1b')) rest = rest.replace(ANSI, '');
  return { rest, timeMs };
}

/** The path of a request target or URL, without query or fragment. */
export function pathOf(target: string): string {
  let path = target;
  if (path.charCodeAt(0) !== 0x2f /* / */) {
    const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(path);
    if (scheme) path = path.slice(scheme[0].length) || '/';
  }
  const cut = path.search(/[?#]/);
  if (cut !== -1) path = path.slice(0, cut);
  if (path.length === 0) return '-';
  return path.length > 120 ? `${path.slice(0, 119)}…` : path;
}

/** The path from a request line "GET /x?y HTTP/1.1"; "-" when the line is not one. */
function pathOfRequestLine(request: string): string {
  const space = request.indexOf(' ');
  if (space < 3 || space > 10 || !/^[A-Z]+$/.test(request.slice(0, space))) return '-';
  const end = request.indexOf(' ', space + 1);
  return pathOf(end === -1 ? request.slice(space + 1) : request.slice(space + 1, end));
}

function clientFrom(peer: string | undefined, forwardedFor: string | undefined, options: ParseOptions): string | undefined {
  if (options.trustForwardedFor && forwardedFor) {
    const first = forwardedFor.split(',')[0]!.trim();
    const client = normalizeIp(first) ?? normalizePeer(first);
    if (client) return client;
  }
  return peer;
}

function hasForwarded(value: string | undefined): value is string {
  return value !== undefined && value !== '' && value !== '-';
}

// $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" <rest>
// nginx writes a '"' inside a field as \x22, so a quoted field has no raw '"'.
const NGINX = /^(\S+) \S+ \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (?:\d+|-)(?: "[^"]*" "[^"]*"(.*))?$/;
// nginx "main": ... "$http_user_agent" "$http_x_forwarded_for"
const TRAILING_QUOTED = /^ "([^"]*)"/;
// ingress-nginx: ... "$http_user_agent" $request_length $request_time [$proxy_upstream_name] ...
const INGRESS_REST = /^ \d+ [\d.]+ \[/;

function parseNginx(line: string, kubeTime: number | undefined, options: ParseOptions): ParsedRequest | undefined {
  const m = NGINX.exec(line);
  if (!m) return undefined;
  const rest = m[5] ?? '';
  let forwardedFor: string | undefined;
  let format: LogFormat = 'nginx';
  if (INGRESS_REST.test(rest)) {
    format = 'ingress-nginx';
  } else {
    const quoted = TRAILING_QUOTED.exec(rest);
    if (quoted) forwardedFor = quoted[1];
  }
  const forwarded = hasForwarded(forwardedFor);
  return {
    format,
    ip: clientFrom(normalizeIp(m[1]!), forwarded ? forwardedFor : undefined, options),
    status: Number(m[4]),
    path: pathOfRequestLine(m[3]!),
    timeMs: parseNginxTime(m[2]!) ?? kubeTime,
    forwarded,
  };
}

// INFO:     203.0.113.7:51234 - "GET /login HTTP/1.1" 429 Too Many Requests
const UVICORN = /(?:^|\s)(\S+) - "([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})(?:\s|$)/;

function parseUvicorn(line: string, kubeTime: number | undefined): ParsedRequest | undefined {
  const m = UVICORN.exec(line);
  if (!m) return undefined;
  return {
    format: 'uvicorn',
    ip: normalizePeer(m[1]!),
    status: Number(m[4]),
    path: pathOf(m[3]!),
    timeMs: kubeTime,
    forwarded: false,
  };
}

const STATUS_KEYS = ['status', 'status_code', 'statusCode', 'http_status', 'response_status'];
const CLIENT_KEYS = ['client_ip', 'remote_addr', 'remote_ip', 'ip', 'client', 'client_addr', 'clientIp', 'clientip'];
const PEER_KEYS = new Set(['client', 'client_addr']);
const FORWARDED_KEYS = ['x_forwarded_for', 'http_x_forwarded_for', 'forwarded_for', 'xff', 'x-forwarded-for', 'X-Forwarded-For'];
const PATH_KEYS = ['path', 'uri', 'request_uri', 'url', 'request'];
const TIME_KEYS = ['time', 'timestamp', '@timestamp', 'ts', 'time_local', 'time_iso8601'];

function first(record: Record<string, unknown>, keys: string[]): unknown {
  for (const key of keys) {
    const value = record[key];
    if (value !== undefined && value !== null && value !== '') return value;
  }
  return undefined;
}

function jsonTime(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e11 ? Math.round(value * 1000) : Math.round(value);
  if (typeof value !== 'string') return undefined;
  const nginx = parseNginxTime(value);
  if (nginx !== undefined) return nginx;
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value)) return undefined;
  const parsed = Date.parse(value.replace(' ', 'T'));
  return Number.isNaN(parsed) ? undefined : parsed;
}

function parseJson(line: string, kubeTime: number | undefined, options: ParseOptions): ParsedRequest | undefined {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  const fields = record as Record<string, unknown>;
  const statusValue = first(fields, STATUS_KEYS);
  const status = typeof statusValue === 'number' ? statusValue : typeof statusValue === 'string' && /^\d{3}$/.test(statusValue) ? Number(statusValue) : NaN;
  if (!Number.isInteger(status) || status < 100 || status > 599) return undefined;
  const clientKey = CLIENT_KEYS.find((key) => typeof fields[key] === 'string' && fields[key] !== '');
  const clientValue = clientKey === undefined ? undefined : (fields[clientKey] as string);
  // "client"/"client_addr" are "address:port" (uvicorn's own wording); the others a bare address.
  const peer = clientValue === undefined ? undefined : PEER_KEYS.has(clientKey!) ? normalizePeer(clientValue) : (normalizeIp(clientValue) ?? normalizePeer(clientValue));
  const forwardedValue = first(fields, FORWARDED_KEYS);
  const forwardedFor = typeof forwardedValue === 'string' ? forwardedValue : Array.isArray(forwardedValue) ? forwardedValue.join(',') : undefined;
  const pathValue = first(fields, PATH_KEYS);
  let path = '-';
  if (typeof pathValue === 'string') path = / HTTP\/[\d.]+$/.test(pathValue) || /^[A-Z]{3,10} /.test(pathValue) ? pathOfRequestLine(pathValue) : pathOf(pathValue);
  const forwarded = hasForwarded(forwardedFor);
  return {
    format: 'json',
    ip: clientFrom(peer, forwarded ? forwardedFor : undefined, options),
    status,
    path,
    timeMs: jsonTime(first(fields, TIME_KEYS)) ?? kubeTime,
    forwarded,
  };
}

/** Parses one access log line of any supported format; undefined when none understands it. */
export function parseLogLine(line: string, options: ParseOptions): ParsedRequest | undefined {
  const { rest, timeMs } = stripPrefixes(line);
  const start = rest.charCodeAt(0);
  if (start === 0x7b /* { */) return parseJson(rest, timeMs, options);
  return parseNginx(rest, timeMs, options) ?? parseUvicorn(rest, timeMs);
}

/** What `quickNginxStatus` found: the status, and 0x1000 added for ingress-nginx's trailing fields. */
export const QUICK_INGRESS = 0x1000;
/** `quickNginxStatus` hints about the whole chunk a line is in (0: may hold any byte). */
export const CHUNK_PLAIN = 1;
export const CHUNK_NO_CR = 2;

/** The hints for chunk[start, end): only ASCII without ESC, and whether it has no CR at all. */
export function chunkHints(chunk: Buffer, start: number, end: number): number {
  const region = chunk.subarray(start, end);
  let hints = 0;
  if (isAscii(region) && region.indexOf(0x1b) === -1) hints |= CHUNK_PLAIN;
  if (region.indexOf(0x0d) === -1) hints |= CHUNK_NO_CR;
  return hints;
}

const isSpaceByte = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/**
 * The status of an nginx or ingress-nginx line read straight from its bytes, without decoding it:
 * `status` (plus QUICK_INGRESS for ingress-nginx), or -1 when the line is not certainly one that
 * `parseLogLine` reads as nginx (a prefix, JSON, a byte it could read differently, any deviation
 * from the format). Then the caller parses the decoded line. It accepts exactly what the NGINX and
 * INGRESS_REST expressions accept, on lines whose bytes outside quoted fields are ASCII: a line it
 * answers for gets the same status and format from `parseLogLine`. `hints` (see chunkHints) let
 * it skip checks that cannot fail in the chunk the line is in.
 */
/** Where `quickNginxStatus` found the fields of a line it answered for (filled when passed). */
export interface QuickFields {
  /** $remote_addr is bytes [line start, addressEnd). */
  addressEnd: number;
  /** $time_local, without its brackets. */
  timeStart: number;
  timeEnd: number;
  /** $request, without its quotes. */
  requestStart: number;
  requestEnd: number;
}

export function newQuickFields(): QuickFields {
  return { addressEnd: 0, timeStart: 0, timeEnd: 0, requestStart: 0, requestEnd: 0 };
}

export function quickNginxStatus(bytes: Buffer, start: number, end: number, hints = 0, fields?: QuickFields): number {
  const plain = (hints & CHUNK_PLAIN) !== 0;
  if (end > start && bytes[end - 1] === 0x0d) end--;
  if (end - start < 8) return -1;
  const first = bytes[start]!;
  // "[pod] " and "{json}" lines; an RFC 3339 timestamp prefix ("2026-01-02T...").
  if (first === 0x5b || first === 0x7b) return -1;
  if (bytes[start + 4] === 0x2d && bytes[start + 10] === 0x54) return -1;
  let i = start;
  // $remote_addr $ident $remote_user: three runs of non-space, each followed by one space.
  for (let field = 0; field < 3; field++) {
    const from = i;
    while (i < end) {
      const b = bytes[i]!;
      if (b >= 0x80 || b === 0x1b) return -1;
      if (isSpaceByte(b)) break;
      i++;
    }
    if (i === from || i >= end || bytes[i] !== 0x20) return -1;
    if (field === 0 && fields) fields.addressEnd = i;
    i++;
  }
  // [$time_local]
  if (bytes[i] !== 0x5b) return -1;
  const timeFrom = ++i;
  i = plain ? bytes.indexOf(0x5d, i) : closing(bytes, i, end, 0x5d);
  if (i === -1 || i === timeFrom || i >= end) return -1;
  const timeEnd = i;
  i++;
  // "$request"
  if (bytes[i] !== 0x20 || bytes[i + 1] !== 0x22) return -1;
  const requestStart = i + 2;
  i = quoted(bytes, i + 1, end, plain);
  if (i < 0) return -1;
  if (fields) {
    fields.timeStart = timeFrom;
    fields.timeEnd = timeEnd;
    fields.requestStart = requestStart;
    fields.requestEnd = i - 1;
  }
  // $status: three digits and a space.
  if (i + 4 > end || bytes[i] !== 0x20) return -1;
  const d0 = bytes[i + 1]! - 0x30, d1 = bytes[i + 2]! - 0x30, d2 = bytes[i + 3]! - 0x30;
  if (d0 < 0 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || bytes[i + 4] !== 0x20) return -1;
  const status = d0 * 100 + d1 * 10 + d2;
  i += 5;
  // $body_bytes_sent: digits or "-".
  if (bytes[i] === 0x2d) i++;
  else {
    const from = i;
    while (i < end && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) i++;
    if (i === from) return -1;
  }
  if (i === end) return status;
  // "$http_referer" "$http_user_agent" and the rest of the line.
  if (bytes[i] !== 0x20 || bytes[i + 1] !== 0x22) return -1;
  i = quoted(bytes, i + 1, end, plain);
  if (i < 0 || bytes[i] !== 0x20 || bytes[i + 1] !== 0x22) return -1;
  i = quoted(bytes, i + 1, end, plain);
  if (i < 0) return -1;
  const rest = i;
  // The rest is matched by "." (no line terminator; bytes past ASCII could be U+2028/U+2029).
  if (!plain) {
    for (let j = rest; j < end; j++) {
      const b = bytes[j]!;
      if (b >= 0x80 || b === 0x1b || b === 0x0d) return -1;
    }
  } else if ((hints & CHUNK_NO_CR) === 0) {
    const cr = bytes.indexOf(0x0d, rest);
    if (cr !== -1 && cr < end) return -1;
  }
  return ingressRest(bytes, rest, end) ? status + QUICK_INGRESS : status;
}

/**
 * The request of an ingress-nginx line `quickNginxStatus` answered for, read from the fields it
 * found without decoding the whole line: what `parseLogLine` answers for that line (ingress-nginx
 * lines carry no X-Forwarded-For field; the address is ASCII, checked by quickNginxStatus).
 */
export function ingressRequest(bytes: Buffer, start: number, fields: QuickFields, status: number): ParsedRequest {
  return {
    format: 'ingress-nginx',
    ip: normalizeIp(bytes.toString('latin1', start, fields.addressEnd)),
    status,
    path: pathOfRequestLine(bytes.toString('utf8', fields.requestStart, fields.requestEnd)),
    // Non-ASCII bytes never make a valid time, decoded either way.
    timeMs: parseNginxTime(bytes.toString('latin1', fields.timeStart, fields.timeEnd)),
    forwarded: false,
  };
}

/** The position of `byte` in [i, end) with no ESC before it, or -1. */
function closing(bytes: Buffer, i: number, end: number, byte: number): number {
  for (let j = i; j < end; j++) {
    const b = bytes[j]!;
    if (b === byte) return j;
    if (b === 0x1b) return -1;
  }
  return -1;
}

/** From the opening quote at `i`: the position after the closing quote, or -1. */
function quoted(bytes: Buffer, i: number, end: number, plain: boolean): number {
  const close = plain ? bytes.indexOf(0x22, i + 1) : closing(bytes, i + 1, end, 0x22);
  return close === -1 || close >= end ? -1 : close + 1;
}

/** INGRESS_REST on bytes: " <digits> <digits and dots> [". */
function ingressRest(bytes: Buffer, i: number, end: number): boolean {
  if (bytes[i] !== 0x20) return false;
  let from = ++i;
  while (i < end && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) i++;
  if (i === from || bytes[i] !== 0x20) return false;
  from = ++i;
  while (i < end && ((bytes[i]! >= 0x30 && bytes[i]! <= 0x39) || bytes[i] === 0x2e)) i++;
  return i > from && i + 1 < end && bytes[i] === 0x20 && bytes[i + 1] === 0x5b;
}
