/**
 * Test helpers for the IAM area: a configuration pointed at moto, policy files in a temporary
 * policies folder, and an IAM client whose chosen calls are answered with IAM's real 403
 * AccessDenied response (the SDK parses it exactly as it would from AWS).
 */
import { mkdtempSync, writeFileSync, readFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { IAMClient } from '@aws-sdk/client-iam';
import { parseConfig } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import { awsClientConfig, testServices } from '../harness/env.ts';

export const ACCOUNT = '123456789012';

/** A policies folder of its own, holding a copy of the runbook's minimal policy. */
export function policiesFolder(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iam-policies-'));
  copyFileSync('policies/minimal-policy.json', path.join(dir, 'minimal-policy.json'));
  return dir;
}

export function writePolicy(dir: string, name: string, content: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

export function minimalPolicy(): { Version: string; Statement: Array<Record<string, unknown>> } {
  return JSON.parse(readFileSync('policies/minimal-policy.json', 'utf8')) as { Version: string; Statement: Array<Record<string, unknown>> };
}

export function iamConfig(options: { roleName: string; policyDir: string; raw?: Record<string, unknown> }): Config {
  return parseConfig({
    aws: { endpoint: testServices().awsEndpoint, region: 'us-east-1', s3ForcePathStyle: true },
    iam: { roleName: options.roleName, policyFile: path.join(options.policyDir, 'minimal-policy.json') },
    ...(options.raw ?? {}),
  });
}

/** The IAM Query API's action of a request body ("Action=PutRolePolicy&..."). */
function paramOf(body: unknown, name: string): string | undefined {
  if (typeof body !== 'string') return undefined;
  return new URLSearchParams(body).get(name) ?? undefined;
}

export interface DeniedIam {
  iam: IAMClient;
  /** IAM API actions sent (denied or not), in order. */
  sent: string[];
}

/**
 * An IAM client on moto that answers the listed actions (e.g. "PutRolePolicy") with IAM's
 * 403 AccessDenied error document, once `deny` says so.
 */
export function iamDenying(deny: (action: string) => boolean): DeniedIam {
  const config = awsClientConfig();
  const base = new IAMClient(config);
  const handler = base.config.requestHandler as unknown as { handle(request: { body?: unknown }, options?: unknown): Promise<unknown> };
  const sent: string[] = [];
  const iam = new IAMClient({
    ...config,
    requestHandler: {
      handle: async (request: { body?: unknown }, options?: unknown) => {
        const action = paramOf(request.body, 'Action') ?? '?';
        sent.push(action);
        if (deny(action)) {
          const resource = `arn:aws:iam::${ACCOUNT}:role/${paramOf(request.body, 'RoleName') ?? '*'}`;
          const body = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::${ACCOUNT}:assumed-role/AutoStackBot/autostack-U012ABCDEF is not authorized to perform: iam:${action} on resource: ${resource} because no identity-based policy allows the iam:${action} action</Message></Error><RequestId>0d3c0b55-iam-test</RequestId></ErrorResponse>`;
          return { response: { statusCode: 403, reason: 'Forbidden', headers: { 'content-type': 'text/xml', 'x-amzn-requestid': '0d3c0b55-iam-test' }, body: Readable.from([Buffer.from(body)]) } };
        }
        return handler.handle(request, options);
      },
    } as never,
  });
  return { iam, sent };
}
