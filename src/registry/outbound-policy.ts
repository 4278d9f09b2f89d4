// Where the registry agrees to send requests. A registration names two URLs the registry will
// call on its own (the heartbeat it probes, the update URL it posts patches to); without a
// policy anyone who may register could point the registry at any host it can reach. By default
// both must be on the instance's own host; `outbound.allow` widens that with CIDRs, exact hosts
// and `*.domain` patterns. Host names are compared as written: nothing is resolved here.
import { BlockList, isIP } from 'node:net';
import { invalidOption, urlNotAllowed, type RosterError } from '../protocol/errors.js';
import type { Registration } from './catalog.js';

export interface OutboundPolicy {
  /** Throws URL_NOT_ALLOWED when the heartbeat or update URL may not be called. */
  check(registration: Pick<Registration, 'url' | 'heartbeatUrl' | 'updateUrl'>): void;
}

/** The option and flag that widen the policy, named in every refusal. */
const WIDEN_HINT = 'start the registry with --allow-callback-hosts <cidr|host|*.domain,...> (option outbound.allow)';

/** Whether `entry` is a valid rule: a CIDR, an exact host (name or IP) or `*.domain`. */
export function isOutboundRule(entry: string): boolean {
  return parseRule(entry) !== undefined;
}

/** A policy from validated rules (see `isOutboundRule`). */
export function createOutboundPolicy(allow: readonly string[] = []): OutboundPolicy {
  const subnets = new BlockList();
  const hosts = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of allow) {
    const rule = parseRule(entry);
    if (!rule) throw invalidOption('outbound.allow', `a list of CIDRs, hosts or *.domain patterns; "${entry}" is none of these`);
    if (rule.kind === 'cidr') subnets.addSubnet(rule.network, rule.prefix, rule.family);
    else if (rule.kind === 'host') hosts.add(rule.host);
    else suffixes.push(rule.suffix);
  }
  const allowed = (host: string): boolean => hosts.has(host) || suffixes.some((suffix) => host.endsWith(suffix)) || inSubnets(subnets, host);
  return {
    check({ url, heartbeatUrl, updateUrl }) {
      // Parsed only when there is something to compare: TTL instances call nothing back.
      if (heartbeatUrl === null && updateUrl === null) return;
      const own = hostOf(url);
      for (const [what, target] of [['heartbeat URL', heartbeatUrl], ['update URL', updateUrl]] as const) {
        if (target === null) continue;
        const host = hostOf(target);
        if (host !== own && !allowed(host)) throw notAllowed(what, target, own);
      }
    },
  };
}

function notAllowed(what: string, url: string, own: string): RosterError {
  return urlNotAllowed(what, url, `the registry calls back only to the instance's own host "${own}" and to hosts it was told to allow; register a URL on "${own}", or ${WIDEN_HINT}`);
}

type Rule = { kind: 'cidr'; network: string; prefix: number; family: 'ipv4' | 'ipv6' } | { kind: 'host'; host: string } | { kind: 'suffix'; suffix: string };

// A host name label: letters, digits, hyphens and underscores (seen in internal names).
const NAME = /^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function parseRule(entry: string): Rule | undefined {
  const text = entry.trim().toLowerCase();
  const slash = text.indexOf('/');
  if (slash >= 0) return parseCidr(text.slice(0, slash), text.slice(slash + 1));
  if (text.startsWith('*.')) return NAME.test(text.slice(2)) ? { kind: 'suffix', suffix: text.slice(1) } : undefined;
  const host = normalizeHost(text);
  return isIP(host) !== 0 || NAME.test(host) ? { kind: 'host', host } : undefined;
}

function parseCidr(address: string, prefixText: string): Rule | undefined {
  const version = isIP(address);
  const prefix = Number(prefixText);
  const max = version === 4 ? 32 : 128;
  if (version === 0 || !/^\d{1,3}$/.test(prefixText) || prefix > max) return undefined;
  return { kind: 'cidr', network: address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

function inSubnets(subnets: BlockList, host: string): boolean {
  const version = isIP(host);
  return version !== 0 && subnets.check(host, version === 4 ? 'ipv4' : 'ipv6');
}

/** A URL's host as compared here: lower case, no IPv6 brackets, no trailing dot. */
function hostOf(url: string): string {
  return normalizeHost(new URL(url).hostname);
}

function normalizeHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const name = bare.endsWith('.') ? bare.slice(0, -1) : bare;
  // The URL parser writes IPv6 in its shortest form; an allow-list entry may not be.
  return isIP(name) === 6 ? new URL(`http://[${name}]/`).hostname.slice(1, -1) : name.toLowerCase();
}
