/**
 * HTTP plumbing shared by the fakes that sit at the HTTP boundary (the AutoStack backend, the
 * Kubernetes API server): listening and closing, reading and recording a request, matching it
 * against a method and path, answering JSON.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on a free port of 127.0.0.1; returns the server's base URL. */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Stops listening, drops every open connection and resolves once the server is closed. */
export async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface IncomingRequest {
  url: URL;
  /** Upper case. */
  method: string;
  /** Query parameters (last value wins for repeated keys). */
  query: Record<string, string>;
  rawBody: string;
  /** Parsed JSON body, or the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
  /** Why the body is not JSON, when it is not. */
  bodyError?: string;
}

/** Reads the whole request and parses its URL, query and (JSON) body. */
export async function readRequest(req: IncomingMessage): Promise<IncomingRequest> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const method = (req.method ?? 'GET').toUpperCase();
  const rawBody = await readBody(req);
  let body: unknown;
  let bodyError: string | undefined;
  if (rawBody.length > 0) {
    try {
      body = JSON.parse(rawBody);
    } catch (e) {
      body = rawBody;
      bodyError = e instanceof Error ? e.message : String(e);
    }
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  return { url, method, query, rawBody, body, bodyError };
}

/**
 * True when a request with `method` (upper case) and `path` matches `rule`: any method when the
 * rule names none, any path when it names none; a string path must match exactly.
 */
export function requestMatches(rule: { method?: string; path?: RegExp | string }, method: string, path: string): boolean {
  const { path: pattern } = rule;
  return (
    (rule.method === undefined || rule.method.toUpperCase() === method) &&
    (pattern === undefined || (typeof pattern === 'string' ? pattern === path : pattern.test(path)))
  );
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
