/**
 * What may be blocked. Never: an invalid address, 0.0.0.0/0, ::/0. Only when an approver forces
 * it: private and other non-public ranges (blocking them cuts off the ingress controller, nodes
 * or internal callers), configured allow-listed networks, and very broad ranges.
 */
import type { Config } from '../../../src/config.ts';
import { BROADEST_WITHOUT_FORCE, nonPublicOverlaps, overlaps, parseNetwork } from './address.ts';
import type { Network } from './address.ts';

export interface BlockCheck {
  /** Refused whatever the role. */
  refused?: string;
  /** Reasons an approver's --force is needed (empty: blockable as is). */
  needsForce: string[];
}

export function allowListNetworks(config: Config): { networks: Network[]; invalid: string[] } {
  const networks: Network[] = [];
  const invalid: string[] = [];
  for (const entry of config.rateLimit.block.allowList) {
    const parsed = parseNetwork(entry);
    if (typeof parsed === 'string') invalid.push(entry);
    else networks.push(parsed);
  }
  return { networks, invalid };
}

export function checkBlock(network: Network, config: Config): BlockCheck {
  if (network.prefix === 0) {
    return { refused: `${network.cidr} is every ${network.kind === 'ipv4' ? 'IPv4' : 'IPv6'} address; blocking it would take the whole platform offline. Refused.`, needsForce: [] };
  }
  const { networks, invalid } = allowListNetworks(config);
  if (invalid.length > 0) {
    return { refused: `rateLimit.block.allowList has entries that are not networks (${invalid.join(', ')}); fix the configuration before blocking anything.`, needsForce: [] };
  }
  const needsForce: string[] = [];
  for (const range of nonPublicOverlaps(network)) needsForce.push(`${network.cidr} overlaps ${range}: blocking it can cut off the ingress controller, nodes or internal callers`);
  for (const allowed of networks) if (overlaps(network, allowed)) needsForce.push(`${network.cidr} overlaps the allow-listed network ${allowed.cidr} (rateLimit.block.allowList)`);
  const broadest = BROADEST_WITHOUT_FORCE[network.kind];
  if (network.prefix < broadest) needsForce.push(`${network.cidr} is broader than /${broadest} (${network.kind === 'ipv4' ? 2 ** (32 - network.prefix) : `2^${128 - network.prefix}`} addresses)`);
  return { needsForce };
}
