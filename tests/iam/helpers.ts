/**
 * Test helpers for the IAM area: a configuration pointed at moto, policy files in a temporary
 * policies folder, roles with inline policies (the runbook's minimal one by default) and an IAM
 * client whose chosen calls are answered with IAM's real 403 AccessDenied response (the SDK
 * parses it exactly as it would from AWS).
 */
import { mkdtempSync, writeFileSync, readFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CreateRoleCommand, GetRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { Config } from '../../src/config.ts';
import { testConfig } from '../harness/context.ts';
import { awsClientConfig } from '../harness/env.ts';

export const ACCOUNT = '123456789012';

/** A trust policy that lets the account's root assume the role. */
export const ACCOUNT_TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] });

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

export function iamConfig(options: { roleName: string; policyDir: string }): Config {
  return testConfig({ iam: { roleName: options.roleName, policyFile: path.join(options.policyDir, 'minimal-policy.json') } });
}

/** Creates `role`, trusted by the account, with `inline` policies (by default the runbook's minimal policy); returns its ARN. */
export async function createRole(iam: IAMClient, role: string, inline: Record<string, unknown> = { AutoStackMinimalPolicy: minimalPolicy() }): Promise<string> {
  const created = await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: ACCOUNT_TRUST }));
  for (const [name, document] of Object.entries(inline)) {
    await iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: name, PolicyDocument: JSON.stringify(document) }));
  }
  return created.Role!.Arn!;
}

/** True while IAM knows `role`. */
export async function roleExists(iam: IAMClient, role: string): Promise<boolean> {
  try {
    await iam.send(new GetRoleCommand({ RoleName: role }));
    return true;
  } catch (error) {
    if ((error as Error).name.startsWith('NoSuchEntity')) return false;
    throw error;
  }
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
