/**
 * AWS call helpers for the IAM area: every call names the IAM action and resource it needs, so an
 * access-denied error tells the engineer exactly what to grant; other errors keep AWS's words.
 */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { STSClient } from '@aws-sdk/client-sts';
import type { Config } from '../../src/config.ts';
import type { AwsClients } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { awsErrorName, isAccessDenied, refusedAction, type AwsErrorShape } from '../shared/aws-errors.ts';

export function isNoSuchEntity(error: unknown): boolean {
  return awsErrorName(error) === 'NoSuchEntity' || awsErrorName(error) === 'NoSuchEntityException';
}

export function isEntityExists(error: unknown): boolean {
  return awsErrorName(error) === 'EntityAlreadyExists' || awsErrorName(error) === 'EntityAlreadyExistsException';
}

/** Thrown for access denied: names the action (and resource) the bot's identity lacks. */
export class AccessDeniedError extends UserFacingError {
  constructor(
    readonly action: string,
    readonly resource: string,
  ) {
    super(
      `Access denied: the bot's AWS identity is not allowed ${action} on ${resource}.`,
      `Grant ${action} on ${resource} to the identity the bot runs as (aws.assumeRoleArn, or its own credentials). \`/autostack iam check\` lists what every command needs.`,
    );
  }
}

/** Runs one AWS call; access denied becomes AccessDeniedError naming `action` and `resource`. */
export async function awsCall<T>(action: string, resource: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof UserFacingError) throw error;
    if (isAccessDenied(error)) {
      const refused = refusedAction(error);
      throw new AccessDeniedError(refused.action ?? action, refused.resource ?? resource);
    }
    throw error;
  }
}

/** Describes an AWS error for a step line: "EntityAlreadyExists: Role with name X already exists." */
export function describeAwsError(error: unknown): string {
  if (error instanceof UserFacingError) return error.message;
  const name = awsErrorName(error);
  const message = (error as AwsErrorShape | undefined)?.message ?? String(error);
  return name && !message.startsWith(name) ? `${name}: ${message}` : message;
}

export interface CallerIdentity {
  account: string;
  partition: string;
  arn: string;
}

export async function callerIdentity(sts: STSClient): Promise<CallerIdentity> {
  // sts:GetCallerIdentity needs no permission: it always works with valid credentials.
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  const arn = identity.Arn ?? '';
  const partition = /^arn:([^:]+):/.exec(arn)?.[1] ?? 'aws';
  if (!identity.Account) throw new UserFacingError('AWS did not say which account the bot runs in (sts:GetCallerIdentity returned no account).');
  return { account: identity.Account, partition, arn };
}

/** The region regional calls go to: configuration first, then the SDK's own resolution. */
export async function awsRegion(config: Config, clients: Pick<AwsClients, 's3'>): Promise<string> {
  if (config.aws.region) return config.aws.region;
  const region = clients.s3.config.region;
  return typeof region === 'function' ? await region() : String(region);
}
