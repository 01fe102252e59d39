/**
 * An HTTP proxy in front of moto that answers chosen AWS requests with a real AWS error response
 * (status, headers and body as AWS sends them) and forwards everything else. The real SDK clients
 * pointed at it parse those errors exactly as they would from AWS, so failures such as access
 * denied in the middle of a restore can be tested against the real emulator.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { TEST_AWS_CREDENTIALS, TEST_AWS_REGION, testServices } from '../harness/env.ts';

export interface SeenRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** DynamoDB operation from X-Amz-Target, e.g. "PutItem". */
  dynamoOperation?: string;
}

export interface Fault {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type FaultRule = (req: SeenRequest) => Fault | undefined;

/** S3's XML error (403 AccessDenied and friends). */
export function s3Error(status: number, code: string, message: string): Fault {
  return {
    status,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>fault-proxy</HostId></Error>`,
  };
}

/** DynamoDB's JSON error (awsJson1_0). */
export function dynamoError(status: number, type: string, message: string): Fault {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'FAULTPROXY' },
    body: JSON.stringify({ __type: `com.amazon.coral.service#${type}`, Message: message }),
  };
}

export interface FaultProxy {
  endpoint: string;
  seen: SeenRequest[];
  rule: FaultRule | undefined;
  s3: S3Client;
  dynamodb: DynamoDBClient;
  close(): Promise<void>;
}

export async function startFaultProxy(): Promise<FaultProxy> {
  const target = new URL(testServices().awsEndpoint);
  const proxy: Partial<FaultProxy> & { seen: SeenRequest[]; rule: FaultRule | undefined } = { seen: [], rule: undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const targetHeader = req.headers['x-amz-target'];
      const seen: SeenRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: body.toString('utf8'),
        ...(typeof targetHeader === 'string' ? { dynamoOperation: targetHeader.split('.').pop()! } : {}),
      };
      proxy.seen.push(seen);
      const fault = proxy.rule?.(seen);
      if (fault) {
        res.writeHead(fault.status, { ...fault.headers, 'content-length': Buffer.byteLength(fault.body) });
        res.end(seen.method === 'HEAD' ? undefined : fault.body);
        return;
      }
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const config = { endpoint, region: TEST_AWS_REGION, credentials: { ...TEST_AWS_CREDENTIALS }, maxAttempts: 1 };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const dynamodb = new DynamoDBClient(config);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    s3.destroy();
    dynamodb.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  afterAll(close);
  return Object.assign(proxy, { endpoint, s3, dynamodb, close }) as FaultProxy;
}

/** True for an S3 PutObject of `key` (not a copy, not another key such as `<key>.tflock`). */
export function isPutObject(req: SeenRequest, key: string): boolean {
  const path = req.url.split('?')[0] ?? '';
  return req.method === 'PUT' && req.headers['x-amz-copy-source'] === undefined && decodeURIComponent(path).endsWith(`/${key}`);
}

/** The DynamoDB item key (LockID) a request addresses, if any. */
export function dynamoLockId(req: SeenRequest): string | undefined {
  try {
    const body = JSON.parse(req.body) as { Key?: { LockID?: { S?: string } }; Item?: { LockID?: { S?: string } } };
    return body.Key?.LockID?.S ?? body.Item?.LockID?.S;
  } catch {
    return undefined;
  }
}
