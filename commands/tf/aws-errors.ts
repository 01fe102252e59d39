/**
 * Turns AWS SDK errors into messages an on-call engineer can act on: the missing IAM action and
 * resource for access denied, and plain words for a missing bucket, table, object or version.
 * Anything else keeps its AWS error name and message, prefixed with the call that failed.
 */
import { UserFacingError } from '../../src/core/types.ts';
import { awsErrorName, isAccessDenied, refusedAction, type AwsErrorShape } from '../shared/aws-errors.ts';
import { s3Uri } from './states.ts';

/** What was being done: the IAM action it needs and on which resource (ARN). */
export interface AwsCall {
  action: string;
  resource: string;
  bucket?: string;
  key?: string;
  versionId?: string;
  table?: string;
  region?: string;
}

/** The UserFacingError for an access-denied error: names the IAM action and the resource. */
export function accessDeniedError(error: unknown, call: AwsCall): UserFacingError {
  const refused = refusedAction(error);
  const action = refused.action ?? call.action;
  const resource = refused.resource ?? call.resource;
  return new UserFacingError(
    `Access denied: the bot's AWS role is missing ${action} on ${resource}.`,
    `Grant ${action} on ${resource} to the role the bot uses (runbook: IAM Setup), then try again. Nothing was changed by this request.`,
  );
}

/** Maps an AWS SDK error to a clear error; returns the original error when it has no better words. */
const BAD_CREDENTIALS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'ExpiredTokenException', 'InvalidClientTokenId', 'UnrecognizedClientException', 'InvalidToken']);

export function explainAwsError(error: unknown, call: AwsCall): Error {
  if (error instanceof UserFacingError) return error;
  const name = awsErrorName(error);
  // A 403 for credentials AWS does not accept is not a missing permission: say which it is.
  if (name !== undefined && BAD_CREDENTIALS.has(name)) {
    return new UserFacingError(
      `AWS did not accept the bot's credentials (${name}) for ${call.action} on ${call.resource}.`,
      "Check the bot's AWS credentials or the role it assumes (aws.assumeRoleArn). Nothing was changed by this request.",
    );
  }
  if (isAccessDenied(error)) return accessDeniedError(error, call);
  const where = call.bucket && call.key ? s3Uri(call.bucket, call.key) : call.resource;
  switch (name) {
    case 'NoSuchBucket':
      return new UserFacingError(`The S3 bucket "${call.bucket ?? call.resource}" does not exist (or is in another account). Check terraform.states in the configuration.`);
    case 'ResourceNotFoundException':
      return new UserFacingError(
        `The DynamoDB table "${call.table ?? call.resource}" does not exist${call.region ? ` in ${call.region}` : ''}. Check terraform.lockTable in the configuration.`,
      );
    case 'NoSuchKey':
    case 'NotFound':
      return new UserFacingError(`There is no object at ${where}. Check the state key in terraform.states.`);
    case 'NoSuchVersion':
      return new UserFacingError(`Version ${call.versionId ?? '?'} of ${where} does not exist. List the versions with \`/autostack tf versions\`.`);
    case 'MethodNotAllowed':
      if (call.versionId) {
        return new UserFacingError(`Version ${call.versionId} of ${where} is a delete marker, not a state. Choose a version with content (\`/autostack tf versions\`).`);
      }
      break;
    case 'InvalidArgument':
      if (call.versionId && /version/i.test((error as AwsErrorShape).message ?? '')) {
        return new UserFacingError(`"${call.versionId}" is not a valid version ID for ${where}. Copy it from \`/autostack tf versions\`.`);
      }
      break;
  }
  const original = error as AwsErrorShape;
  const wrapped = new Error(`${call.action} on ${call.resource} failed: ${name ?? 'error'}: ${original?.message ?? String(error)}`);
  (wrapped as Error & { cause?: unknown }).cause = error;
  return wrapped;
}

/** Runs one AWS call and explains its failure. */
export async function aws<T>(call: AwsCall, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw explainAwsError(error, call);
  }
}
