/**
 * HTTP plumbing of the emulator: reading request bodies and turning them into Web API arguments
 * the way Slack accepts them (query string, x-www-form-urlencoded, JSON, multipart/form-data).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly messages: string[] = [],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(code);
  }
}

export type Args = Record<string, unknown>;

export const MAX_BODY_BYTES = 50 * 1024 * 1024;

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new ApiError('request_too_large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

async function parseMultipart(contentType: string, raw: Buffer): Promise<FormData> {
  const body = new ArrayBuffer(raw.byteLength);
  new Uint8Array(body).set(raw);
  return new Response(body, { headers: { 'content-type': contentType } }).formData();
}

/** Arguments of a Web API call: query string merged with the body (body wins). */
export async function parseArgs(req: IncomingMessage, url: URL, raw: Buffer): Promise<Args> {
  const args: Args = Object.fromEntries(url.searchParams);
  if (raw.length === 0) return args;
  const type = mediaType(req);
  if (type === 'application/x-www-form-urlencoded') {
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) args[k] = v;
  } else if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ApiError('invalid_json');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ApiError('invalid_json');
    Object.assign(args, parsed);
  } else if (type === 'multipart/form-data') {
    let form: FormData;
    try {
      form = await parseMultipart(req.headers['content-type'] ?? type, raw);
    } catch {
      throw new ApiError('invalid_form_data');
    }
    for (const [k, v] of form) args[k] = typeof v === 'string' ? v : Buffer.from(await v.arrayBuffer());
  } else if (type === '') {
    throw new ApiError('missing_post_type');
  } else {
    throw new ApiError('invalid_post_type');
  }
  return args;
}

/** Bytes of an upload to an upload URL: the first file part of a multipart body, else the raw body. */
export async function uploadedBytes(req: IncomingMessage, raw: Buffer): Promise<Buffer> {
  if (mediaType(req) !== 'multipart/form-data') return raw;
  const form = await parseMultipart(req.headers['content-type'] ?? 'multipart/form-data', raw);
  let firstString: string | undefined;
  for (const [, v] of form) {
    if (typeof v !== 'string') return Buffer.from(await v.arrayBuffer());
    firstString ??= v;
  }
  return Buffer.from(firstString ?? '', 'utf8');
}

// ----- argument accessors -----

export function str(args: Args, key: string): string | undefined {
  const v = args[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function nonEmpty(args: Args, key: string): string | undefined {
  const v = str(args, key);
  return v === undefined || v === '' ? undefined : v;
}

export function bool(args: Args, key: string): boolean {
  const v = args[key];
  return v === true || v === 1 || v === 'true' || v === '1';
}

/** A JSON-valued argument: form bodies carry it as a JSON string, JSON bodies as a value. */
export function jsonArg(args: Args, key: string, errorCode: string): unknown {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return v;
  if (v === '') return undefined;
  try {
    return JSON.parse(v);
  } catch {
    throw new ApiError(errorCode, [`[ERROR] ${key} is not valid JSON [json-pointer:/${key}]`]);
  }
}

const JSON_ARGS = ['blocks', 'attachments', 'view', 'files', 'metadata', 'file_ids'];

/** Arguments as they are recorded: token removed, JSON-valued arguments parsed when they parse. */
export function recordedArgs(args: Args): Args {
  const out: Args = {};
  for (const [k, v] of Object.entries(args)) {
    if (k === 'token') continue;
    if (JSON_ARGS.includes(k) && typeof v === 'string') {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        // keep the string as sent
      }
    }
    out[k] = Buffer.isBuffer(v) ? `<${v.length} bytes>` : v;
  }
  return out;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
