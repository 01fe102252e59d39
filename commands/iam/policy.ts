/**
 * IAM policy documents: validation (what IAM itself would reject), canonical form for comparing
 * two documents by meaning, and a readable line diff. Pure functions, no AWS calls.
 */
import { canonicalJson, fingerprintOf } from '../../src/core/stable-json.ts';

export type StringOrList = string | string[];
export type ConditionBlock = Record<string, Record<string, unknown>>;

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: StringOrList;
  NotAction?: StringOrList;
  Resource?: StringOrList;
  NotResource?: StringOrList;
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement[] | PolicyStatement;
}

export class PolicyError extends Error {}

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
const VERSIONS = new Set(['2012-10-17', '2008-10-17']);

const BASE_OPERATORS = new Set([
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
  'Null',
]);

export interface ParsedOperator {
  base: string;
  set?: 'ForAnyValue' | 'ForAllValues';
  ifExists: boolean;
}

/** Splits `ForAnyValue:StringLikeIfExists` into its parts; undefined for an unknown operator. */
export function parseOperator(operator: string): ParsedOperator | undefined {
  let rest = operator;
  let set: ParsedOperator['set'];
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const prefix = rest.slice(0, colon);
    if (prefix !== 'ForAnyValue' && prefix !== 'ForAllValues') return undefined;
    set = prefix;
    rest = rest.slice(colon + 1);
  }
  let ifExists = false;
  if (rest.endsWith('IfExists') && rest !== 'IfExists') {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  if (!BASE_OPERATORS.has(rest)) return undefined;
  if (rest === 'Null' && (ifExists || set)) return undefined;
  return { base: rest, ifExists, ...(set ? { set } : {}) };
}

export function asList(value: StringOrList | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function statementsOf(document: PolicyDocument): PolicyStatement[] {
  return Array.isArray(document.Statement) ? document.Statement : [document.Statement];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkStringList(value: unknown, where: string): void {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new PolicyError(`${where} must not be empty`);
  for (const item of list) {
    if (typeof item !== 'string' || item.length === 0) throw new PolicyError(`${where} must be a string or a list of non-empty strings`);
  }
}

export interface ValidateOptions {
  /** Identity policies (inline/managed) have no Principal; trust policies need one. */
  kind: 'identity' | 'trust';
}

/**
 * Checks that `value` is an IAM policy document: Version, Statement with Effect,
 * Action|NotAction, Resource|NotResource (identity) or Principal (trust), known condition
 * operators. Throws PolicyError naming the first problem.
 */
export function validatePolicyDocument(value: unknown, options: ValidateOptions = { kind: 'identity' }): PolicyDocument {
  if (!isPlainObject(value)) throw new PolicyError('a policy document must be a JSON object with Version and Statement');
  if (value.Version === undefined) throw new PolicyError('the policy document has no "Version" (use "2012-10-17")');
  if (typeof value.Version !== 'string' || !VERSIONS.has(value.Version)) throw new PolicyError(`"Version" must be "2012-10-17", not ${JSON.stringify(value.Version)}`);
  for (const key of Object.keys(value)) {
    if (key !== 'Version' && key !== 'Statement' && key !== 'Id') throw new PolicyError(`unexpected top-level key "${key}" (a policy document has Version, Id and Statement)`);
  }
  if (value.Statement === undefined) throw new PolicyError('the policy document has no "Statement"');
  const statements = Array.isArray(value.Statement) ? value.Statement : [value.Statement];
  if (statements.length === 0) throw new PolicyError('"Statement" must not be empty');
  const sids = new Set<string>();
  statements.forEach((statement: unknown, index) => {
    const where = `Statement[${index}]`;
    if (!isPlainObject(statement)) throw new PolicyError(`${where} must be an object`);
    for (const key of Object.keys(statement)) {
      if (!STATEMENT_KEYS.has(key)) throw new PolicyError(`${where}: unexpected key "${key}"`);
    }
    if (statement.Sid !== undefined) {
      if (typeof statement.Sid !== 'string') throw new PolicyError(`${where}: "Sid" must be a string`);
      if (options.kind === 'identity' && !/^[A-Za-z0-9]*$/.test(statement.Sid)) throw new PolicyError(`${where}: "Sid" may contain only letters and digits`);
      if (statement.Sid && sids.has(statement.Sid)) throw new PolicyError(`${where}: duplicate Sid "${statement.Sid}"`);
      sids.add(statement.Sid);
    }
    if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') throw new PolicyError(`${where}: "Effect" must be "Allow" or "Deny"`);
    const hasAction = statement.Action !== undefined;
    const hasNotAction = statement.NotAction !== undefined;
    if (hasAction === hasNotAction) throw new PolicyError(`${where}: needs exactly one of "Action" or "NotAction"`);
    const actionKey = hasAction ? 'Action' : 'NotAction';
    checkStringList(statement[actionKey], `${where}.${actionKey}`);
    for (const action of asList(statement[actionKey] as StringOrList)) {
      if (action !== '*' && !/^[a-zA-Z0-9-]+:[A-Za-z0-9*?]+$/.test(action)) {
        throw new PolicyError(`${where}.${actionKey}: "${action}" is not an action (service:Action, wildcards * and ? allowed)`);
      }
    }
    const hasResource = statement.Resource !== undefined;
    const hasNotResource = statement.NotResource !== undefined;
    if (hasResource && hasNotResource) throw new PolicyError(`${where}: has both "Resource" and "NotResource"`);
    if (options.kind === 'identity') {
      if (statement.Principal !== undefined || statement.NotPrincipal !== undefined) {
        throw new PolicyError(`${where}: an identity policy must not have "Principal" (that belongs in the trust policy)`);
      }
      if (!hasResource && !hasNotResource) throw new PolicyError(`${where}: needs "Resource" or "NotResource"`);
    } else if (statement.Principal === undefined && statement.NotPrincipal === undefined) {
      throw new PolicyError(`${where}: a trust policy statement needs "Principal"`);
    }
    if (hasResource || hasNotResource) {
      const resourceKey = hasResource ? 'Resource' : 'NotResource';
      checkStringList(statement[resourceKey], `${where}.${resourceKey}`);
      for (const resource of asList(statement[resourceKey] as StringOrList)) {
        if (resource !== '*' && !resource.startsWith('arn:')) throw new PolicyError(`${where}.${resourceKey}: "${resource}" is neither "*" nor an ARN`);
      }
    }
    if (statement.Condition !== undefined) {
      if (!isPlainObject(statement.Condition)) throw new PolicyError(`${where}: "Condition" must be an object`);
      for (const [operator, block] of Object.entries(statement.Condition)) {
        if (!parseOperator(operator)) throw new PolicyError(`${where}: unknown condition operator "${operator}"`);
        if (!isPlainObject(block)) throw new PolicyError(`${where}: Condition.${operator} must map condition keys to values`);
        for (const [key, values] of Object.entries(block)) {
          const list = Array.isArray(values) ? values : [values];
          if (list.length === 0 || list.some((v) => !['string', 'number', 'boolean'].includes(typeof v))) {
            throw new PolicyError(`${where}: Condition.${operator}.${key} must be a value or a list of values`);
          }
        }
      }
    }
  });
  return value as unknown as PolicyDocument;
}

/** Parses JSON text and validates it; messages say whether the JSON or the document is wrong. */
export function parsePolicyText(text: string, options: ValidateOptions = { kind: 'identity' }): PolicyDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PolicyError(`not valid JSON (${(error as Error).message})`);
  }
  return validatePolicyDocument(value, options);
}

/** IAM returns policy documents URL-encoded (RFC 3986); moto and some clients return plain JSON. */
export function decodePolicyDocument(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return JSON.parse(trimmed);
  return JSON.parse(decodeURIComponent(trimmed));
}

function sortedUnique(values: unknown[]): string[] {
  return [...new Set(values.map((v) => String(v)))].sort();
}

function canonicalValue(value: unknown): unknown {
  if (Array.isArray(value)) return sortedUnique(value);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = canonicalValue(value[key]);
    return out;
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/**
 * A canonical form: statements as a list, every list sorted and de-duplicated, single values
 * as one-element lists, keys sorted, condition keys lower-cased (IAM matches them
 * case-insensitively). Two documents with the same canonical form grant the same permissions.
 */
export function canonicalPolicy(document: PolicyDocument): Record<string, unknown> {
  const statements = statementsOf(document).map((statement) => {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(statement).sort()) {
      const value = (statement as unknown as Record<string, unknown>)[key];
      if (key === 'Sid' && value === '') continue;
      if (key === 'Action' || key === 'NotAction' || key === 'Resource' || key === 'NotResource') out[key] = sortedUnique(asList(value as StringOrList));
      else if (key === 'Principal' || key === 'NotPrincipal') {
        if (value === '*') out[key] = { AWS: ['*'] };
        else if (isPlainObject(value)) {
          const principal: Record<string, string[]> = {};
          for (const type of Object.keys(value).sort()) principal[type] = sortedUnique(asList(value[type] as StringOrList));
          out[key] = principal;
        } else out[key] = value;
      } else if (key === 'Condition' && isPlainObject(value)) {
        const condition: Record<string, unknown> = {};
        for (const operator of Object.keys(value).sort()) {
          const block = value[operator];
          const keys: Record<string, string[]> = {};
          if (isPlainObject(block)) {
            // Condition keys are case-insensitive.
            for (const conditionKey of Object.keys(block).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))) {
              keys[conditionKey.toLowerCase()] = sortedUnique(Array.isArray(block[conditionKey]) ? (block[conditionKey] as unknown[]) : [block[conditionKey]]);
            }
          }
          condition[operator] = keys;
        }
        out[key] = condition;
      } else out[key] = canonicalValue(value);
    }
    return out;
  });
  statements.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return { Version: document.Version ?? '2008-10-17', Statement: statements };
}

export function samePolicy(a: PolicyDocument, b: PolicyDocument): boolean {
  return canonicalJson(canonicalPolicy(a)) === canonicalJson(canonicalPolicy(b));
}

export function policyDigest(document: PolicyDocument): string {
  return fingerprintOf(canonicalPolicy(document)).slice(0, 12);
}

/** IAM's quota for all inline policies of a role, counted without whitespace. */
export const ROLE_INLINE_POLICY_LIMIT = 10_240;

export function policySize(document: PolicyDocument): number {
  return JSON.stringify(document).replace(/\s+/g, '').length;
}

/**
 * A line diff (longest common subsequence) of two texts: unchanged lines start with two
 * spaces, removed lines with "- ", added lines with "+ ".
 */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (j < b.length && (i >= a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
      out.push(`+ ${b[j]}`);
      j++;
    } else {
      out.push(`- ${a[i]}`);
      i++;
    }
  }
  return out;
}

/** Diff of two policies in canonical, pretty-printed form (so formatting never shows as a change). */
export function policyDiff(before: PolicyDocument, after: PolicyDocument): string[] {
  return lineDiff(JSON.stringify(canonicalPolicy(before), null, 2), JSON.stringify(canonicalPolicy(after), null, 2));
}
