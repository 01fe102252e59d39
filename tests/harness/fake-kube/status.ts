/**
 * Kubernetes `Status` failure bodies, shaped exactly like the API server's
 * (kind Status, apiVersion v1, status Failure, reason, details, code).
 */
import type { ResourceInfo } from './resources.ts';
import { qualifiedKind, qualifiedResource } from './resources.ts';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** Default reason for an HTTP code, as the API server would report it. */
export function reasonForCode(code: number): string {
  switch (code) {
    case 400: return 'BadRequest';
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 406: return 'NotAcceptable';
    case 409: return 'Conflict';
    case 410: return 'Expired';
    case 413: return 'RequestEntityTooLarge';
    case 415: return 'UnsupportedMediaType';
    case 422: return 'Invalid';
    case 429: return 'TooManyRequests';
    case 500: return 'InternalError';
    case 503: return 'ServiceUnavailable';
    case 504: return 'Timeout';
    default: return 'Unknown';
  }
}

export function failureStatus(code: number, reason: string, message: string, details?: StatusDetails): StatusBody {
  const body: StatusBody = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) body.details = details;
  return body;
}

/** An error that the HTTP layer turns into a Status response. */
export class KubeApiError extends Error {
  readonly status: StatusBody;

  constructor(status: StatusBody) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.name = 'KubeApiError';
    this.status = status;
  }

  get code(): number {
    return this.status.code;
  }
}

function resourceDetails(info: ResourceInfo, name: string): StatusDetails {
  const details: StatusDetails = { name };
  if (info.group) details.group = info.group;
  details.kind = info.plural;
  return details;
}

export function notFound(info: ResourceInfo, name: string): KubeApiError {
  return new KubeApiError(
    failureStatus(404, 'NotFound', `${qualifiedResource(info)} "${name}" not found`, resourceDetails(info, name)),
  );
}

export function alreadyExists(info: ResourceInfo, name: string): KubeApiError {
  return new KubeApiError(
    failureStatus(409, 'AlreadyExists', `${qualifiedResource(info)} "${name}" already exists`, resourceDetails(info, name)),
  );
}

export const CONFLICT_MESSAGE = 'the object has been modified; please apply your changes to the latest version and try again';

export function conflict(info: ResourceInfo, name: string, why: string = CONFLICT_MESSAGE): KubeApiError {
  return new KubeApiError(
    failureStatus(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(info)} "${name}": ${why}`, resourceDetails(info, name)),
  );
}

export function badRequest(message: string): KubeApiError {
  return new KubeApiError(failureStatus(400, 'BadRequest', message));
}

export function internalError(message: string): KubeApiError {
  return new KubeApiError(
    failureStatus(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }),
  );
}

export function unauthorized(): KubeApiError {
  return new KubeApiError(failureStatus(401, 'Unauthorized', 'Unauthorized'));
}

export function methodNotAllowed(): KubeApiError {
  return new KubeApiError(failureStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}));
}

export function pathNotFound(): KubeApiError {
  return new KubeApiError(failureStatus(404, 'NotFound', 'the server could not find the requested resource', {}));
}

export function unsupportedMediaType(contentType: string, accepted: readonly string[]): KubeApiError {
  return new KubeApiError(
    failureStatus(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format (${contentType || 'none'}) - accepted media types include: ${accepted.join(', ')}`,
    ),
  );
}

/** A field-level validation error, rendered like k8s.io/apimachinery field.Error. */
export interface FieldError {
  field: string;
  type: 'Required' | 'Invalid' | 'Forbidden' | 'NotSupported' | 'Duplicate';
  /** The offending value, already rendered (Go %#v style) where relevant. */
  value?: string;
  detail?: string;
}

const CAUSE_REASON: Record<FieldError['type'], string> = {
  Required: 'FieldValueRequired',
  Invalid: 'FieldValueInvalid',
  Forbidden: 'FieldValueForbidden',
  NotSupported: 'FieldValueNotSupported',
  Duplicate: 'FieldValueDuplicate',
};

function fieldErrorBody(e: FieldError): string {
  switch (e.type) {
    case 'Required':
      return e.detail ? `Required value: ${e.detail}` : 'Required value';
    case 'Forbidden':
      return e.detail ? `Forbidden: ${e.detail}` : 'Forbidden';
    case 'Duplicate':
      return `Duplicate value: ${e.value ?? ''}`;
    case 'NotSupported':
      return `Unsupported value: ${e.value ?? ''}${e.detail ? `: ${e.detail}` : ''}`;
    case 'Invalid':
      return `Invalid value: ${e.value ?? ''}${e.detail ? `: ${e.detail}` : ''}`;
  }
}

/** 422 Invalid, e.g. `Deployment.apps "web" is invalid: spec.selector: Required value`. */
export function invalid(info: ResourceInfo, name: string, errors: readonly FieldError[]): KubeApiError {
  const rendered = errors.map((e) => `${e.field}: ${fieldErrorBody(e)}`);
  const summary = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  const details: StatusDetails = { name };
  if (info.group) details.group = info.group;
  details.kind = info.kind;
  details.causes = errors.map((e) => ({ reason: CAUSE_REASON[e.type], message: fieldErrorBody(e), field: e.field }));
  return new KubeApiError(
    failureStatus(422, 'Invalid', `${qualifiedKind(info)} "${name}" is invalid: ${summary}`, details),
  );
}

/** Renders a string map the way Go's %#v does in validation messages. */
export function goStringMap(map: Record<string, string> | undefined): string {
  const entries = Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `map[string]string{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(', ')}}`;
}

export function successStatus(details: StatusDetails): Omit<StatusBody, 'code' | 'message' | 'reason'> & { details: StatusDetails } {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}
