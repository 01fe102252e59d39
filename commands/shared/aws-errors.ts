/**
 * Recognising AWS SDK errors, shared by every area that calls AWS: the error's name, its HTTP
 * status, whether it is an access denial, and which IAM action and resource AWS says it refused.
 * Each area words its own messages from these.
 */
export interface AwsErrorShape {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

export function awsErrorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as AwsErrorShape;
  return e.name ?? e.Code;
}

export function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as AwsErrorShape).$metadata?.httpStatusCode;
}

const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'Forbidden', 'UnauthorizedOperation', 'UnauthorizedAccess', 'AllAccessDisabled']);

export function isAccessDenied(error: unknown): boolean {
  const name = awsErrorName(error);
  // A HEAD request's 403 has no body: the SDK names it by status only.
  return (name !== undefined && ACCESS_DENIED.has(name)) || (httpStatus(error) === 403 && name !== 'PreconditionFailed');
}

/** "... is not authorized to perform: dynamodb:GetItem on resource: arn:..." (DynamoDB, STS and IAM say this). */
const NOT_AUTHORIZED = /not authorized to perform:\s*([a-z0-9-]+:[A-Za-z0-9]+)(?:\s+on resource:\s*(\S+?))?(?=\s|$)/;

/** The action and resource an access-denied message names, where it names them. */
export function refusedAction(error: unknown): { action?: string; resource?: string } {
  const message = (error as AwsErrorShape | undefined)?.message;
  const m = typeof message === 'string' ? NOT_AUTHORIZED.exec(message) : null;
  return { action: m?.[1], resource: m?.[2] };
}
