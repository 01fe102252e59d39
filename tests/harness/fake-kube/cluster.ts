/**
 * Object storage with the API server's write semantics: a global
 * resourceVersion counter, optimistic concurrency (409 on a stale
 * resourceVersion), metadata.generation, status-subresource preservation,
 * defaulting, validation, dry runs and garbage collection of dependents.
 *
 * The HTTP layer and the seeding helpers both go through these methods; the
 * controllers use the lower-level `put`/`remove`, which skip validation.
 */
import { randomUUID } from 'node:crypto';
import type { ResourceInfo } from './resources.ts';
import { RESOURCES, apiVersionOf, resourceInfo } from './resources.ts';
import { applyDefaults, decodeBody, prepareForCreate, validate } from './schema.ts';
import { alreadyExists, badRequest, conflict, internalError, invalid, notFound, unsupportedMediaType } from './status.ts';
import {
  APPLY_PATCH,
  JSON_PATCH,
  MERGE_PATCH,
  STRATEGIC_MERGE_PATCH,
  SUPPORTED_PATCH_TYPES,
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
} from './patch.ts';
import type { KubeObject } from './types.ts';
import { clone, deepEqual, isPlainObject, randomSuffix, rfc3339 } from './util.ts';

export type PropagationPolicy = 'Orphan' | 'Background' | 'Foreground';

export interface WriteOptions {
  dryRun?: boolean;
}

export interface DeleteOptions extends WriteOptions {
  propagationPolicy?: PropagationPolicy;
}

/** Callbacks through which the controllers observe API-level writes. */
export interface ClusterHooks {
  afterWrite?(info: ResourceInfo, obj: KubeObject, old: KubeObject | undefined): void;
  afterDelete?(info: ResourceInfo, obj: KubeObject): void;
}

function key(info: ResourceInfo, namespace: string | undefined, name: string): string {
  return `${info.plural}/${info.namespaced ? namespace ?? '' : ''}/${name}`;
}

/** Everything but metadata/status: a change here bumps metadata.generation. */
function specPart(obj: KubeObject): unknown {
  const { metadata: _m, status: _s, kind: _k, apiVersion: _a, ...rest } = obj;
  return rest;
}

function withoutResourceVersion(obj: KubeObject): unknown {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } };
}

export class Cluster {
  private readonly objects = new Map<string, KubeObject>();
  private resourceVersion = 0;
  hooks: ClusterHooks = {};

  constructor(readonly now: () => Date) {
    for (const ns of ['default', 'kube-system', 'kube-public']) {
      this.create(resourceInfo('namespaces'), undefined, { metadata: { name: ns } });
    }
  }

  /** The latest resourceVersion handed out (what list responses report). */
  currentResourceVersion(): string {
    return String(this.resourceVersion);
  }

  // -------------------------------------------------------------------------
  // Reads

  find<T extends KubeObject = KubeObject>(info: ResourceInfo, namespace: string | undefined, name: string): T | undefined {
    const obj = this.objects.get(key(info, namespace, name));
    return obj ? (clone(obj) as T) : undefined;
  }

  get<T extends KubeObject = KubeObject>(info: ResourceInfo, namespace: string | undefined, name: string): T {
    const obj = this.find<T>(info, namespace, name);
    if (!obj) throw notFound(info, name);
    return obj;
  }

  /** Objects of a resource, optionally within one namespace, in key order like etcd. */
  list<T extends KubeObject = KubeObject>(info: ResourceInfo, namespace?: string, filter?: (obj: T) => boolean): T[] {
    const prefix = `${info.plural}/${namespace !== undefined && info.namespaced ? `${namespace}/` : ''}`;
    const out: T[] = [];
    for (const [k, obj] of this.objects) {
      if (!k.startsWith(prefix)) continue;
      const copy = clone(obj) as T;
      if (!filter || filter(copy)) out.push(copy);
    }
    return out.sort((a, b) => {
      const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`;
      const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  }

  listAll(): KubeObject[] {
    return [...this.objects.values()].map((o) => clone(o));
  }

  // -------------------------------------------------------------------------
  // Low-level writes used by controllers (no validation, no hooks)

  /** Stores an object, bumping resourceVersion only if its content changed. Returns the stored copy. */
  put<T extends KubeObject>(info: ResourceInfo, obj: T): T {
    const k = key(info, obj.metadata.namespace, obj.metadata.name ?? '');
    const existing = this.objects.get(k);
    if (existing && deepEqual(withoutResourceVersion(existing), withoutResourceVersion(obj))) return clone(existing) as T;
    const stored = clone(obj);
    stored.kind = info.kind;
    stored.apiVersion = apiVersionOf(info);
    stored.metadata.resourceVersion = String(++this.resourceVersion);
    this.objects.set(k, stored);
    return clone(stored);
  }

  /** Removes an object without cascading. Returns the removed object. */
  remove(info: ResourceInfo, namespace: string | undefined, name: string): KubeObject | undefined {
    const k = key(info, namespace, name);
    const existing = this.objects.get(k);
    if (!existing) return undefined;
    this.objects.delete(k);
    this.resourceVersion++;
    return existing;
  }

  /** Builds metadata for an object a controller creates. */
  newMetadata(namespace: string | undefined, name: string): KubeObject['metadata'] {
    return { name, namespace, uid: randomUUID(), creationTimestamp: rfc3339(this.now()) };
  }

  // -------------------------------------------------------------------------
  // API-level writes

  private requireNamespace(info: ResourceInfo, namespace: string | undefined): void {
    if (!info.namespaced) return;
    const nsInfo = resourceInfo('namespaces');
    if (!namespace || !this.objects.has(key(nsInfo, undefined, namespace))) throw notFound(nsInfo, namespace ?? '');
  }

  private checkKind(info: ResourceInfo, body: unknown): KubeObject {
    if (!isPlainObject(body)) throw badRequest(`the body of the request was not a valid ${info.kind} object`);
    if (body.kind !== undefined && body.kind !== info.kind) {
      throw badRequest(`the kind in the body (${String(body.kind)}) does not match the expected kind ${info.kind}`);
    }
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(info)) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersionOf(info)})`);
    }
    const obj = clone(body) as KubeObject;
    if (!isPlainObject(obj.metadata)) obj.metadata = {};
    return obj;
  }

  create<T extends KubeObject = KubeObject>(info: ResourceInfo, namespace: string | undefined, body: unknown, opts: WriteOptions = {}): T {
    const obj = this.checkKind(info, body);
    if (info.namespaced) {
      if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = namespace;
    } else {
      delete obj.metadata.namespace;
    }
    this.requireNamespace(info, namespace);
    if (!obj.metadata.name) {
      if (obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomSuffix()}`;
      else throw invalid(info, '', [{ field: 'metadata.name', type: 'Required', detail: 'name or generateName is required' }]);
    }
    const name = obj.metadata.name;
    if (obj.metadata.resourceVersion) throw internalError('resourceVersion should not be set on objects to be created');
    if (this.objects.has(key(info, namespace, name))) throw alreadyExists(info, name);

    decodeBody(info, obj);
    obj.kind = info.kind;
    obj.apiVersion = apiVersionOf(info);
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = rfc3339(this.now());
    if (info.tracksGeneration) obj.metadata.generation = 1;
    else delete obj.metadata.generation;
    delete obj.metadata.deletionTimestamp;
    if (info.hasStatus) obj.status = info.plural === 'namespaces' ? { phase: 'Active' } : {};
    applyDefaults(info, obj);
    prepareForCreate(info, obj);
    validate(info, obj, undefined);
    if (opts.dryRun) return obj as T;

    const stored = this.put(info, obj);
    this.hooks.afterWrite?.(info, clone(stored), undefined);
    return stored as T;
  }

  /** PUT: full replacement with optimistic concurrency. */
  replace<T extends KubeObject = KubeObject>(info: ResourceInfo, namespace: string | undefined, name: string, body: unknown, opts: WriteOptions = {}): T {
    const current = this.get(info, namespace, name);
    const candidate = this.checkKind(info, body);
    return this.commitUpdate(info, current, candidate, opts) as T;
  }

  /** PATCH with one of the three supported content types. */
  patch<T extends KubeObject = KubeObject>(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    contentType: string,
    patchBody: unknown,
    opts: WriteOptions = {},
  ): T {
    const current = this.get(info, namespace, name);
    const patched = this.patchDocument(current, contentType, patchBody);
    const candidate = this.checkKind(info, patched);
    return this.commitUpdate(info, current, candidate, opts) as T;
  }

  /** Applies a patch of the given content type to a document (no storage). */
  patchDocument(current: unknown, contentType: string, patchBody: unknown): unknown {
    switch (contentType) {
      case JSON_PATCH:
        return applyJsonPatch(current, patchBody);
      case MERGE_PATCH:
        if (!isPlainObject(patchBody)) throw badRequest('merge patch body must be a JSON object');
        return applyMergePatch(current, patchBody);
      case STRATEGIC_MERGE_PATCH:
        return applyStrategicMergePatch(current, patchBody);
      case APPLY_PATCH:
      default:
        throw unsupportedMediaType(contentType, SUPPORTED_PATCH_TYPES);
    }
  }

  private commitUpdate(info: ResourceInfo, current: KubeObject, candidate: KubeObject, opts: WriteOptions): KubeObject {
    const name = current.metadata.name ?? '';
    if (candidate.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(candidate.metadata.name ?? '')}) does not match the name on the URL (${name})`);
    }
    if (info.namespaced && candidate.metadata.namespace !== undefined && candidate.metadata.namespace !== current.metadata.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const rv = candidate.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) throw conflict(info, name);

    // Server-managed fields cannot be changed through the main resource.
    candidate.kind = info.kind;
    candidate.apiVersion = apiVersionOf(info);
    candidate.metadata.namespace = current.metadata.namespace;
    candidate.metadata.uid = current.metadata.uid;
    candidate.metadata.creationTimestamp = current.metadata.creationTimestamp;
    candidate.metadata.resourceVersion = current.metadata.resourceVersion;
    if (current.metadata.generation !== undefined) candidate.metadata.generation = current.metadata.generation;
    else delete candidate.metadata.generation;
    if (info.hasStatus) {
      if (current.status === undefined) delete candidate.status;
      else candidate.status = clone(current.status);
    }
    decodeBody(info, candidate);
    applyDefaults(info, candidate);
    validate(info, candidate, current);

    if (info.tracksGeneration && !deepEqual(specPart(candidate), specPart(current))) {
      candidate.metadata.generation = (current.metadata.generation ?? 1) + 1;
    }
    if (deepEqual(candidate, current)) return current; // a no-op write does not bump resourceVersion
    if (opts.dryRun) return candidate;

    const stored = this.put(info, candidate);
    this.hooks.afterWrite?.(info, clone(stored), current);
    return stored;
  }

  /** PUT/PATCH on the status subresource: only .status changes. */
  updateStatus<T extends KubeObject = KubeObject>(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    mode: { contentType: string; body: unknown } | { replace: unknown },
    opts: WriteOptions = {},
  ): T {
    const current = this.get(info, namespace, name);
    const source = 'replace' in mode ? mode.replace : this.patchDocument(current, mode.contentType, mode.body);
    const candidate = this.checkKind(info, source);
    const rv = candidate.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) throw conflict(info, name);
    const next = clone(current);
    next.status = candidate.status;
    if (deepEqual(next, current) || opts.dryRun) return next as T;
    return this.put(info, next) as T;
  }

  /** DELETE with garbage collection of dependents according to the propagation policy. */
  delete(info: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject {
    const current = this.get(info, namespace, name);
    if (opts.dryRun) return current;
    // batch/v1 Jobs orphan their pods unless told otherwise (legacy default).
    const policy = opts.propagationPolicy ?? (info.plural === 'jobs' ? 'Orphan' : 'Background');
    this.deleteWithDependents(info, current, policy);
    return current;
  }

  private deleteWithDependents(info: ResourceInfo, obj: KubeObject, policy: PropagationPolicy): void {
    const uid = obj.metadata.uid;
    if (info.plural === 'namespaces') {
      for (const other of this.listAll()) {
        if (other.metadata.namespace !== obj.metadata.name) continue;
        const otherInfo = RESOURCES.find((r) => r.kind === other.kind);
        if (otherInfo) this.remove(otherInfo, other.metadata.namespace, other.metadata.name ?? '');
      }
    }
    this.remove(info, obj.metadata.namespace, obj.metadata.name ?? '');
    this.hooks.afterDelete?.(info, obj);
    for (const dependent of this.listAll()) {
      const refs = dependent.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === uid)) continue;
      const depInfo = RESOURCES.find((r) => r.kind === dependent.kind);
      if (!depInfo) continue;
      if (policy === 'Orphan') {
        const orphaned = clone(dependent);
        orphaned.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
        if (orphaned.metadata.ownerReferences.length === 0) delete orphaned.metadata.ownerReferences;
        this.put(depInfo, orphaned);
      } else if (this.find(depInfo, dependent.metadata.namespace, dependent.metadata.name ?? '')) {
        this.deleteWithDependents(depInfo, dependent, policy);
      }
    }
  }
}
