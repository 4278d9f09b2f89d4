// Source addresses allowed to use an API that carries no credential (the course's /services and
// POST /log): CIDRs or single addresses, IPv4 and IPv6.
import { BlockList, isIP } from 'node:net';
import { invalidOption } from '../protocol/errors.js';

/** Loopback only: the course's Go services run on the registry's machine. */
export const DEFAULT_COURSE_SOURCES: readonly string[] = Object.freeze(['127.0.0.0/8', '::1/128']);

export class SourceList {
  readonly entries: readonly string[];
  readonly #list = new BlockList();

  /** Throws INVALID_OPTION naming `option` when an entry is no address or CIDR. */
  constructor(entries: readonly string[], option: string) {
    this.entries = Object.freeze([...entries]);
    for (const entry of entries) this.#add(entry.trim(), option);
  }

  /** Whether `address` (as a socket reports it, IPv4-mapped IPv6 included) is in the list. */
  allows(address: string | undefined): boolean {
    if (!address) return false;
    // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const plain = mapped ? mapped[1]! : address;
    const family = isIP(plain);
    if (family === 0) return false;
    return this.#list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }

  #add(entry: string, option: string): void {
    const [address = '', prefixText, extra] = entry.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max || prefixText === '') {
      throw invalidOption(option, `a list of IP addresses or CIDRs (e.g. 127.0.0.0/8, ::1, 10.1.2.3); "${entry}" is neither`);
    }
    this.#list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
}
