/**
 * Where blocked networks go. Both backends read the list, change it and write it back with
 * optimistic concurrency, so entries someone else added in between are never lost:
 *
 * - ingress: the ingress-nginx annotation `nginx.ingress.kubernetes.io/denylist-source-range`
 *   (comma-separated CIDRs) on one Ingress, the Kubernetes form of the runbook's nginx `deny`.
 *   Written with a JSON patch whose first operation tests the value that was read (or the
 *   resourceVersion when the annotation is absent); a failed test (422) or a conflict (409)
 *   re-reads and tries again.
 * - waf: an AWS WAF IP set, GetIPSet then UpdateIPSet with the LockToken that came with it;
 *   WAFOptimisticLockException re-reads and tries again. An IP set holds one address family, so
 *   IPv6 networks go to a second set when one is configured.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GetIPSetCommand, UpdateIPSetCommand } from '@aws-sdk/client-wafv2';
import type { WAFV2Client } from '@aws-sdk/client-wafv2';
import type { KubeClients } from '../../../src/core/types.ts';
import { UserFacingError } from '../../../src/core/types.ts';
import type { Config } from '../../../src/config.ts';
import { parseNetwork } from './address.ts';
import type { IpKind } from './address.ts';
import { apiError } from '../../shared/kube.ts';
import { kubeStatus } from './kube-logs.ts';

export const DENYLIST_ANNOTATION = 'nginx.ingress.kubernetes.io/denylist-source-range';
const ATTEMPTS = 5;

/** Where a block lives; stored with the block so it is removed from exactly there. */
import type { BlockTarget } from '../../shared/block-records.ts';
export type { BlockTarget };

export interface ListChange {
  /** False when the list already was as asked (nothing written). */
  changed: boolean;
  /** Number of entries after the change. */
  entries: number;
}

export interface BlockBackend {
  readonly target: BlockTarget;
  /** The list's entries as written there. */
  list(): Promise<string[]>;
  /** Adds the network unless an entry for exactly that network is there. */
  add(cidr: string): Promise<ListChange>;
  /** Removes every entry for exactly that network; other entries stay as they are. */
  remove(cidr: string): Promise<ListChange>;
}

export function describeTarget(target: BlockTarget): string {
  return target.kind === 'ingress' ? `Ingress ${target.namespace}/${target.name} (${DENYLIST_ANNOTATION})` : `WAF IP set ${target.name} (${target.scope}, ${target.id})`;
}

/** The configured target for a network of this family; throws when the configuration has none. */
export function configuredTarget(config: Config, kind: IpKind): BlockTarget {
  const block = config.rateLimit.block;
  if (block.backend === 'ingress') return { kind: 'ingress', namespace: config.kubernetes.namespace, name: block.ingress };
  if (!block.waf) throw new UserFacingError('rateLimit.block.backend is "waf" but rateLimit.block.waf (name, id, scope) is not configured; nothing was blocked.');
  if (kind === 'ipv6') {
    if (!block.waf.ipv6) throw new UserFacingError('This is an IPv6 network and the WAF backend has no IPv6 IP set: configure rateLimit.block.waf.ipv6 (name, id). Nothing was blocked.');
    return { kind: 'waf', name: block.waf.ipv6.name, id: block.waf.ipv6.id, scope: block.waf.scope };
  }
  return { kind: 'waf', name: block.waf.name, id: block.waf.id, scope: block.waf.scope };
}

/** The canonical CIDR of a list entry, or undefined for an entry that is not a network. */
function canonical(entry: string): string | undefined {
  const network = parseNetwork(entry);
  return typeof network === 'string' ? undefined : network.cidr;
}

export function splitEntries(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
}

/** The entries with `cidr` added at the end, or undefined when it is already there. */
export function withEntry(entries: string[], cidr: string): string[] | undefined {
  return entries.some((e) => canonical(e) === cidr) ? undefined : [...entries, cidr];
}

/** The entries without `cidr`, or undefined when it is not there. */
export function withoutEntry(entries: string[], cidr: string): string[] | undefined {
  const kept = entries.filter((e) => canonical(e) !== cidr);
  return kept.length === entries.length ? undefined : kept;
}

// ---------------------------------------------------------------------------------------------
// ingress-nginx annotation

const ANNOTATION_PATH = `/metadata/annotations/${DENYLIST_ANNOTATION.replace(/~/g, '~0').replace(/\//g, '~1')}`;

type JsonPatchOp = { op: 'test' | 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

export class IngressDenylist implements BlockBackend {
  readonly target: BlockTarget & { kind: 'ingress' };

  constructor(
    private readonly kube: KubeClients,
    namespace: string,
    name: string,
  ) {
    this.target = { kind: 'ingress', namespace, name };
  }

  private async read() {
    try {
      return await this.kube.networking.readNamespacedIngress({ name: this.target.name, namespace: this.target.namespace });
    } catch (error) {
      if (kubeStatus(error) === 404) throw new UserFacingError(`Ingress ${this.target.namespace}/${this.target.name} not found; nothing was changed.`, 'Check rateLimit.block.ingress in the bot configuration.');
      throw kubeError(`reading Ingress ${this.target.namespace}/${this.target.name}`, error);
    }
  }

  async list(): Promise<string[]> {
    const ingress = await this.read();
    return splitEntries(ingress.metadata?.annotations?.[DENYLIST_ANNOTATION]);
  }

  add(cidr: string): Promise<ListChange> {
    return this.mutate((entries) => withEntry(entries, cidr));
  }

  remove(cidr: string): Promise<ListChange> {
    return this.mutate((entries) => withoutEntry(entries, cidr));
  }

  private async mutate(change: (entries: string[]) => string[] | undefined): Promise<ListChange> {
    const where = `Ingress ${this.target.namespace}/${this.target.name}`;
    let lastError: unknown;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const ingress = await this.read();
      const annotations = ingress.metadata?.annotations;
      const old = annotations?.[DENYLIST_ANNOTATION];
      const entries = splitEntries(old);
      const next = change(entries);
      if (!next) return { changed: false, entries: entries.length };
      const value = next.join(',');
      const ops: JsonPatchOp[] = [];
      if (old !== undefined) {
        ops.push({ op: 'test', path: ANNOTATION_PATH, value: old });
        ops.push(value === '' ? { op: 'remove', path: ANNOTATION_PATH } : { op: 'replace', path: ANNOTATION_PATH, value });
      } else {
        ops.push({ op: 'test', path: '/metadata/resourceVersion', value: ingress.metadata?.resourceVersion });
        ops.push(annotations ? { op: 'add', path: ANNOTATION_PATH, value } : { op: 'add', path: '/metadata/annotations', value: { [DENYLIST_ANNOTATION]: value } });
      }
      try {
        await this.kube.networking.patchNamespacedIngress(
          { name: this.target.name, namespace: this.target.namespace, body: ops },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        );
        return { changed: true, entries: next.length };
      } catch (error) {
        const status = kubeStatus(error);
        // 409: changed meanwhile; 422: our test operation failed because the value changed.
        if (status === 409 || status === 422) {
          lastError = error;
          continue;
        }
        throw kubeError(`updating ${where}`, error);
      }
    }
    throw new UserFacingError(`${where} kept changing while the deny list was being updated (${ATTEMPTS} attempts); nothing was changed.`, apiError(lastError).message);
  }
}

function kubeError(what: string, error: unknown): UserFacingError {
  if (error instanceof UserFacingError) return error;
  const status = kubeStatus(error);
  const hint = status === 401 || status === 403 ? "The bot's service account needs get and patch on ingresses in the namespace." : undefined;
  return new UserFacingError(`${what} failed${status ? ` (${status})` : ''}: ${apiError(error).message}. Nothing was changed.`, hint);
}

// ---------------------------------------------------------------------------------------------
// AWS WAF IP set

export class WafIpSet implements BlockBackend {
  readonly target: BlockTarget & { kind: 'waf' };

  constructor(
    private readonly waf: WAFV2Client,
    target: { name: string; id: string; scope: 'REGIONAL' | 'CLOUDFRONT' },
  ) {
    this.target = { kind: 'waf', ...target };
  }

  private get key() {
    return { Name: this.target.name, Id: this.target.id, Scope: this.target.scope };
  }

  private async read() {
    try {
      const out = await this.waf.send(new GetIPSetCommand(this.key));
      if (!out.IPSet || !out.LockToken) throw new Error('GetIPSet returned no IP set');
      return { set: out.IPSet, lockToken: out.LockToken };
    } catch (error) {
      throw wafError(`reading ${describeTarget(this.target)}`, error);
    }
  }

  async list(): Promise<string[]> {
    return (await this.read()).set.Addresses ?? [];
  }

  add(cidr: string): Promise<ListChange> {
    return this.mutate(cidr, (entries) => withEntry(entries, cidr));
  }

  remove(cidr: string): Promise<ListChange> {
    return this.mutate(cidr, (entries) => withoutEntry(entries, cidr));
  }

  private async mutate(cidr: string, change: (entries: string[]) => string[] | undefined): Promise<ListChange> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const { set, lockToken } = await this.read();
      const family = cidr.includes(':') ? 'IPV6' : 'IPV4';
      if (set.IPAddressVersion && set.IPAddressVersion !== family) {
        throw new UserFacingError(`${describeTarget(this.target)} holds ${set.IPAddressVersion} addresses and ${cidr} is ${family}; nothing was changed.`, 'Configure rateLimit.block.waf (IPv4 set) and rateLimit.block.waf.ipv6 (IPv6 set).');
      }
      const entries = set.Addresses ?? [];
      const next = change(entries);
      if (!next) return { changed: false, entries: entries.length };
      try {
        await this.waf.send(
          new UpdateIPSetCommand({
            ...this.key,
            Addresses: next,
            LockToken: lockToken,
            // UpdateIPSet replaces every mutable field: keep the description.
            ...(set.Description ? { Description: set.Description } : {}),
          }),
        );
        return { changed: true, entries: next.length };
      } catch (error) {
        if ((error as { name?: string }).name === 'WAFOptimisticLockException') continue;
        throw wafError(`updating ${describeTarget(this.target)}`, error);
      }
    }
    throw new UserFacingError(`${describeTarget(this.target)} kept changing while it was being updated (${ATTEMPTS} attempts); nothing was changed.`);
  }
}

function wafError(what: string, error: unknown): UserFacingError {
  if (error instanceof UserFacingError) return error;
  const name = (error as { name?: string }).name ?? 'Error';
  const message = ((error as Error).message ?? String(error)).split('\n')[0]!;
  if (name === 'WAFNonexistentItemException') return new UserFacingError(`${what}: the IP set does not exist (check rateLimit.block.waf name, id and scope); nothing was changed.`);
  if (name === 'WAFLimitsExceededException') return new UserFacingError(`${what}: the IP set is full (WAF allows 10,000 addresses per set); nothing was changed.`, 'Unblock expired entries or block a wider range.');
  if (name === 'AccessDeniedException' || name === 'WAFUnavailableEntityException') return new UserFacingError(`${what}: ${name}: ${message}. Nothing was changed.`, 'The bot role needs wafv2:GetIPSet and wafv2:UpdateIPSet on the IP set.');
  return new UserFacingError(`${what} failed: ${name}: ${message}. Nothing was changed.`);
}

export interface BackendClients {
  kube(): KubeClients;
  wafv2(): WAFV2Client;
}

export function backendFor(target: BlockTarget, clients: BackendClients): BlockBackend {
  if (target.kind === 'ingress') return new IngressDenylist(clients.kube(), target.namespace, target.name);
  return new WafIpSet(clients.wafv2(), target);
}
