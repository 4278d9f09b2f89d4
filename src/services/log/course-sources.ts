// Which peers may use the course's unauthenticated POST /log: a list of address ranges
// (default loopback), as the registry's course API.
import { BlockList, isIP } from 'node:net';
import { checkOption } from '../../protocol/errors.js';

export const DEFAULT_COURSE_SOURCES: readonly string[] = Object.freeze(['127.0.0.0/8', '::1/128']);

export interface SourceList {
  allows(address: string | undefined): boolean;
}

/** "10.0.0.0/8", "::1/128" or a bare address; throws INVALID_OPTION naming a bad entry. */
export function sourceList(cidrs: readonly string[], option = 'courseSources'): SourceList {
  checkOption(Array.isArray(cidrs), option, 'a list of CIDRs such as 127.0.0.0/8');
  const list = new BlockList();
  for (const entry of cidrs) addRange(list, entry, option);
  return { allows: (address) => address !== undefined && matches(list, address) };
}

function addRange(list: BlockList, entry: string, option: string): void {
  const [address = '', bits] = String(entry).trim().split('/');
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const prefix = bits === undefined ? max : Number(bits);
  const valid = family !== 0 && /^\d{1,3}$/.test(bits ?? String(max)) && prefix <= max;
  checkOption(valid, option, `a list of CIDRs such as 127.0.0.0/8 or ::1/128 ("${entry}" is not one)`);
  list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
}

/** An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d: it matches the IPv4 ranges. */
function matches(list: BlockList, address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return list.check(mapped[1] as string, 'ipv4');
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
