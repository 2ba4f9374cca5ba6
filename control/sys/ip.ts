/**
 * What iproute2 knows about an interface, read as JSON (`ip -j`): its MAC,
 * whether it is up, its addresses. Run in a named namespace when given, or
 * in this thread's (a child process inherits the namespace of the thread
 * that starts it, so inside inNetns() that is the one entered).
 */
import { execFileSync } from 'node:child_process';

export interface InterfaceInfo {
  ifname: string;
  mac: string;
  /** Administratively up with a carrier. */
  up: boolean;
  ipv4: string[];
  /** Global IPv6 addresses that are usable (not tentative, DAD not failed). */
  ipv6: string[];
  linkLocal6?: string;
}

interface IpAddrJson {
  ifname: string;
  address: string;
  flags: string[];
  addr_info: { family: 'inet' | 'inet6'; local: string; scope: string; tentative?: boolean; dadfailed?: boolean }[];
}

export function ip(args: readonly string[], netns?: string): string {
  return execFileSync('ip', netns ? ['-n', netns, ...args] : [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The interface's state, or null if there is no such interface. */
export function interfaceInfo(ifname: string, netns?: string): InterfaceInfo | null {
  let info: IpAddrJson | undefined;
  try {
    info = (JSON.parse(ip(['-j', 'addr', 'show', 'dev', ifname], netns)) as IpAddrJson[])[0];
  } catch {
    return null;
  }
  if (!info) return null;
  const usable = info.addr_info.filter((a) => !a.tentative && !a.dadfailed);
  const global = (family: 'inet' | 'inet6') => usable.filter((a) => a.family === family && a.scope === 'global').map((a) => a.local);
  const linkLocal6 = usable.find((a) => a.family === 'inet6' && a.scope === 'link')?.local;
  return {
    ifname, mac: info.address, up: info.flags.includes('UP') && info.flags.includes('LOWER_UP'),
    ipv4: global('inet'), ipv6: global('inet6'), ...(linkLocal6 && { linkLocal6 }),
  };
}
