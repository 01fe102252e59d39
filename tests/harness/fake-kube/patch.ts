/**
 * The three patch formats the API server accepts for built-in types:
 * JSON merge patch (RFC 7386), strategic merge patch (the subset of list
 * merge keys built-in workload types use) and JSON patch (RFC 6902).
 */
import { KubeApiError, badRequest, failureStatus } from './status.ts';
import { clone, deepEqual, isPlainObject } from './util.ts';

export const JSON_PATCH = 'application/json-patch+json';
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const APPLY_PATCH = 'application/apply-patch+yaml';

export const SUPPORTED_PATCH_TYPES: readonly string[] = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH];

// ---------------------------------------------------------------------------
// RFC 7386 JSON merge patch

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Strategic merge patch

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/**
 * patchMergeKey of the list fields that carry `patchStrategy:"merge"` in the
 * built-in types. Lists not named here are replaced wholesale, as on a real
 * server (e.g. args, command, tolerations, ingress rules).
 */
function mergeKeyFor(path: readonly string[], field: string): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
    case 'resourceClaims':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'hostAliases':
      return 'ip';
    case 'ownerReferences':
      return 'uid';
    case 'conditions':
      return 'type';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    case 'ports':
      // Container ports merge on containerPort, Service ports on port.
      return path.some((p) => CONTAINER_LISTS.has(p)) ? 'containerPort' : 'port';
    default:
      return undefined;
  }
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

const DELETE = Symbol('delete');

function strategicMergeValue(original: unknown, patch: unknown, path: readonly string[]): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const directive = patch.$patch;
  if (directive === 'delete') return DELETE;
  if (directive === 'replace') return stripDirectives(patch);
  if (directive !== undefined && directive !== 'merge') throw badRequest(`unknown patch type: ${String(directive)}`);

  const result: Record<string, unknown> = isPlainObject(original) ? clone(original) : {};
  for (const [key, value] of Object.entries(patch)) {
    // Ordering / retain-keys hints from kubectl apply do not change content.
    if (key.startsWith('$')) continue;
    if (value === null) {
      delete result[key];
      continue;
    }
    const mergeKey = Array.isArray(value) ? mergeKeyFor(path, key) : undefined;
    if (Array.isArray(value) && mergeKey) {
      result[key] = mergeList(result[key], value, mergeKey, [...path, key]);
    } else if (isPlainObject(value)) {
      const merged = strategicMergeValue(result[key], value, [...path, key]);
      if (merged === DELETE) delete result[key];
      else result[key] = merged;
    } else {
      result[key] = stripDirectives(value);
    }
  }
  return result;
}

function mergeList(original: unknown, patch: unknown[], mergeKey: string, path: readonly string[]): unknown[] {
  const result: unknown[] = Array.isArray(original) ? clone(original) : [];
  for (const item of patch) {
    if (!isPlainObject(item)) {
      if (!result.some((existing) => deepEqual(existing, item))) result.push(clone(item));
      continue;
    }
    const keyValue = item[mergeKey];
    const index = result.findIndex((existing) => isPlainObject(existing) && existing[mergeKey] === keyValue);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
      continue;
    }
    if (index >= 0) {
      const merged = strategicMergeValue(result[index], item, path);
      if (merged === DELETE) result.splice(index, 1);
      else result[index] = merged;
    } else {
      result.push(stripDirectives(item));
    }
  }
  return result;
}

export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) throw badRequest('strategic merge patch body must be a JSON object');
  const merged = strategicMergeValue(target, patch, []);
  return merged === DELETE ? {} : merged;
}

// ---------------------------------------------------------------------------
// RFC 6902 JSON patch

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

/** 422 as the API server answers a patch that cannot be applied. */
function cannotApply(message: string): KubeApiError {
  return new KubeApiError(
    failureStatus(422, 'Invalid', 'the server rejected our request due to an error in our request', {
      causes: [{ reason: 'UnexpectedServerResponse', message }],
    }),
  );
}

export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON pointer: ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function decodeOperations(patch: unknown): JsonPatchOperation[] {
  if (!Array.isArray(patch)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  return patch.map((raw, i) => {
    if (!isPlainObject(raw)) throw badRequest(`invalid JSON patch operation at index ${i}`);
    const op = raw.op;
    if (op !== 'add' && op !== 'remove' && op !== 'replace' && op !== 'move' && op !== 'copy' && op !== 'test') {
      throw badRequest(`Unexpected kind: ${String(op)}`);
    }
    if (typeof raw.path !== 'string') throw badRequest(`operation ${op} is missing path`);
    if ((op === 'add' || op === 'replace' || op === 'test') && !('value' in raw)) {
      throw badRequest(`${op} operation is missing value`);
    }
    if ((op === 'move' || op === 'copy') && typeof raw.from !== 'string') throw badRequest(`${op} operation is missing from`);
    const operation: JsonPatchOperation = { op, path: raw.path };
    if ('value' in raw) operation.value = raw.value;
    if (typeof raw.from === 'string') operation.from = raw.from;
    return operation;
  });
}

type Container = Record<string, unknown> | unknown[];

/** Resolves the parent container of a pointer and the final token. */
function locate(doc: unknown, tokens: string[], op: string, pointer: string): { parent: Container; key: string } {
  let cur: unknown = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) {
      const idx = Number(token);
      if (!/^\d+$/.test(token) || idx >= cur.length) throw cannotApply(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
      cur = cur[idx];
    } else if (isPlainObject(cur)) {
      if (!(token in cur)) throw cannotApply(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
      cur = cur[token];
    } else {
      throw cannotApply(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
    }
  }
  if (!Array.isArray(cur) && !isPlainObject(cur)) {
    throw cannotApply(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
  }
  return { parent: cur, key: tokens[tokens.length - 1] ?? '' };
}

function getAt(doc: unknown, pointer: string, op: string): unknown {
  let cur: unknown = doc;
  for (const token of parsePointer(pointer)) {
    if (Array.isArray(cur) && /^\d+$/.test(token) && Number(token) < cur.length) cur = cur[Number(token)];
    else if (isPlainObject(cur) && token in cur) cur = cur[token];
    else throw cannotApply(`${op} operation does not apply: doc is missing key: ${pointer}: missing value`);
  }
  return cur;
}

function arrayIndex(list: unknown[], key: string, op: string, pointer: string, allowEnd: boolean): number {
  if (key === '-' && allowEnd) return list.length;
  if (!/^\d+$/.test(key)) throw cannotApply(`${op} operation does not apply: invalid array index "${key}" in ${pointer}`);
  const idx = Number(key);
  if (idx > list.length || (!allowEnd && idx === list.length)) {
    throw cannotApply(`${op} operation does not apply: index out of range in ${pointer}`);
  }
  return idx;
}

function addAt(doc: unknown, pointer: string, value: unknown, op: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return clone(value);
  const { parent, key } = locate(doc, tokens, op, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, op, pointer, true), 0, clone(value));
  else parent[key] = clone(value);
  return doc;
}

function removeAt(doc: unknown, pointer: string, op: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw cannotApply(`${op} operation does not apply: cannot remove the document root`);
  const { parent, key } = locate(doc, tokens, op, pointer);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(parent, key, op, pointer, false), 1);
  } else {
    if (!(key in parent)) throw cannotApply(`${op} operation does not apply: doc is missing key: ${pointer}: missing value`);
    delete parent[key];
  }
  return doc;
}

export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  const operations = decodeOperations(patch);
  let doc: unknown = clone(target);
  for (const operation of operations) {
    const { op, path } = operation;
    switch (op) {
      case 'add':
        doc = addAt(doc, path, operation.value, op);
        break;
      case 'remove':
        doc = removeAt(doc, path, op);
        break;
      case 'replace': {
        getAt(doc, path, op); // must exist
        const tokens = parsePointer(path);
        if (tokens.length === 0) {
          doc = clone(operation.value);
        } else {
          const { parent, key } = locate(doc, tokens, op, path);
          if (Array.isArray(parent)) parent[arrayIndex(parent, key, op, path, false)] = clone(operation.value);
          else parent[key] = clone(operation.value);
        }
        break;
      }
      case 'move': {
        const from = operation.from ?? '';
        const value = getAt(doc, from, op);
        doc = removeAt(doc, from, op);
        doc = addAt(doc, path, value, op);
        break;
      }
      case 'copy':
        doc = addAt(doc, path, getAt(doc, operation.from ?? '', op), op);
        break;
      case 'test': {
        let actual: unknown;
        try {
          actual = getAt(doc, path, op);
        } catch {
          actual = undefined;
        }
        if (actual === undefined || !deepEqual(actual, operation.value)) {
          throw cannotApply(`testing value ${path} failed: test failed`);
        }
        break;
      }
    }
  }
  return doc;
}
