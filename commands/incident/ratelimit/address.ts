/**
 * IP addresses and networks: normalizing what log lines contain, and validating what an operator
 * asks to block.
 */
import ipaddr from 'ipaddr.js';
import { detach } from './heavy-hitters.ts';

export type IpKind = 'ipv4' | 'ipv6';

/** A network in canonical form: network address, RFC 5952 text for IPv6, explicit prefix. */
export interface Network {
  /** e.g. "203.0.113.7/32", "2001:db8::/64". */
  cidr: string;
  kind: IpKind;
  prefix: number;
  address: ipaddr.IPv4 | ipaddr.IPv6;
}

function addressText(address: ipaddr.IPv4 | ipaddr.IPv6): string {
  return address.kind() === 'ipv6' ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
}

/** Parses one address strictly (dotted quad for IPv4); IPv4-mapped IPv6 becomes IPv4. */
function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (text.includes(':')) {
    if (!ipaddr.IPv6.isValid(text)) return undefined;
    const v6 = ipaddr.IPv6.parse(text);
    if (v6.zoneId !== undefined) return undefined;
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  return ipaddr.IPv4.parse(text);
}

/** A dotted quad without leading zeros (already canonical), checked without a regular expression. */
function isCanonicalIpv4(text: string): boolean {
  const length = text.length;
  if (length < 7 || length > 15) return false;
  let dots = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || ++dots > 3) return false;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return dots === 3 && digits > 0;
}

/**
 * Bounded memo of the slow path (IPv6 and odd forms): log lines repeat the same clients. Two
 * generations: when the young one is full it becomes the old one, so clients seen often stay.
 */
const CACHE_LIMIT = 4096;
let young = new Map<string, string | undefined>();
let old = new Map<string, string | undefined>();

/**
 * The canonical text of an address as found in a log line, or undefined when it is not an
 * address. Accepts "[2001:db8::1]" (brackets) and IPv4-mapped IPv6 (returned as IPv4).
 */
export function normalizeIp(text: string): string | undefined {
  if (isCanonicalIpv4(text)) return text;
  let result = young.get(text);
  if (result !== undefined || young.has(text)) return result;
  result = old.has(text) ? old.get(text) : normalizeUncached(text);
  if (young.size >= CACHE_LIMIT) {
    old = young;
    young = new Map();
  }
  // Copies, so that the cache does not keep the log lines these were cut from.
  young.set(detach(text), result === undefined ? undefined : detach(result));
  return result;
}

function normalizeUncached(text: string): string | undefined {
  let candidate = text.trim();
  if (candidate.startsWith('[') && candidate.endsWith(']')) candidate = candidate.slice(1, -1);
  if (candidate.length === 0 || candidate.length > 45) return undefined;
  const address = parseAddress(candidate);
  return address ? addressText(address) : undefined;
}

/**
 * A peer as servers print it, address then port: "1.2.3.4:5678", "[2001:db8::1]:443" and uvicorn's
 * unbracketed "2001:db8::1:5678" (the last group is the port). Without a port the whole text is
 * tried as an address.
 */
export function normalizePeer(text: string): string | undefined {
  const bracketed = /^\[([^\]]+)\]:\d{1,5}$/.exec(text);
  if (bracketed) return normalizeIp(bracketed[1]!);
  const colon = text.lastIndexOf(':');
  if (colon > 0 && /^\d{1,5}$/.test(text.slice(colon + 1))) {
    const withoutPort = normalizeIp(text.slice(0, colon));
    if (withoutPort) return withoutPort;
  }
  return normalizeIp(text);
}

/** Parses "1.2.3.4", "1.2.3.0/24", "2001:db8::/32": a network in canonical form, or an error message. */
export function parseNetwork(text: string): Network | string {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash === -1 ? undefined : trimmed.slice(slash + 1);
  const raw = addrText.startsWith('[') && addrText.endsWith(']') ? addrText.slice(1, -1) : addrText;
  let address = parseAddress(raw);
  if (!address) return `"${text}" is not an IPv4 or IPv6 address or network (e.g. 203.0.113.7, 198.51.100.0/24, 2001:db8::/48)`;
  const parsedIsMapped = raw.includes(':') && address.kind() === 'ipv4';
  const max = address.kind() === 'ipv4' ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return `"${text}": the prefix length after "/" must be a number`;
    prefix = Number(prefixText);
    if (parsedIsMapped) prefix -= 96;
    if (prefix < 0 || prefix > max) return `"${text}": the prefix length must be between 0 and ${parsedIsMapped ? 128 : max}`;
  }
  const network = (address.kind() === 'ipv4' ? ipaddr.IPv4 : ipaddr.IPv6).networkAddressFromCIDR(`${addressText(address)}/${prefix}`);
  address = network;
  return { cidr: `${addressText(address)}/${prefix}`, kind: address.kind(), prefix, address };
}

/** True when the two networks share at least one address. */
export function overlaps(a: Network, b: Network): boolean {
  if (a.kind !== b.kind) return false;
  const shorter = Math.min(a.prefix, b.prefix);
  return (a.address as ipaddr.IPv4).match(b.address as ipaddr.IPv4, shorter);
}

/** True when `outer` contains every address of `inner`. */
export function contains(outer: Network, inner: Network): boolean {
  return outer.kind === inner.kind && outer.prefix <= inner.prefix && overlaps(outer, inner);
}

/** Networks that are never the public internet: blocking them only hurts ourselves. */
export const NON_PUBLIC_NETWORKS: ReadonlyArray<readonly [cidr: string, name: string]> = [
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'],
  ['0.0.0.0/8', '"this network"'],
  ['fc00::/7', 'unique local (private IPv6)'],
  ['::1/128', 'loopback'],
  ['fe80::/10', 'link-local'],
  ['::/128', 'unspecified'],
];

const nonPublic = NON_PUBLIC_NETWORKS.map(([cidr, name]) => ({ network: parseNetwork(cidr) as Network, name }));

/** Names of the non-public ranges the network overlaps (empty when it is wholly public). */
export function nonPublicOverlaps(network: Network): string[] {
  return nonPublic.filter((entry) => overlaps(network, entry.network)).map((entry) => `${entry.network.cidr} ${entry.name}`);
}

/** Broader than this needs an approver's --force: a typo here blocks a large part of the internet. */
export const BROADEST_WITHOUT_FORCE = { ipv4: 16, ipv6: 32 } as const;
