/**
 * The anchor's state for the benchmark: one binding per tunnel format, each
 * with an IPv6 and an IPv4 home address, tunnelled from the anchor's
 * outside address to the sink's; and the outside addresses as endpoints.
 */
import type { DataPlane, Tunnel } from '../control/dataplane/dataplane.js';
import type { TunnelFormatName } from '../control/dataplane/layout.js';
import { DSMIP_PORT } from './frames.js';
import { addr, homeAddress } from './topology.js';

export const FORMATS: readonly TunnelFormatName[] = ['ip6', 'ip4', 'udp4', 'udp4-tlv'];

/** Binding id, and N of its home addresses 2001:db8:1::N and 10.1.0.N. */
export const bindingNumber = (format: TunnelFormatName) => FORMATS.indexOf(format) + 1;

export function tunnelFor(format: TunnelFormatName): Tunnel {
  if (format === 'ip6') return { format, local: addr.anchorOut.v6, remote: addr.sink.v6 };
  if (format === 'ip4') return { format, local: addr.anchorOut.v4, remote: addr.sink.v4 };
  return { format, local: addr.anchorOut.v4, remote: addr.sink.v4, localPort: DSMIP_PORT, remotePort: DSMIP_PORT };
}

export function installBindings(dp: DataPlane): void {
  for (const format of FORMATS) {
    const n = bindingNumber(format);
    const home = homeAddress(n);
    dp.install({ id: n, tunnel: tunnelFor(format), homeAddresses: [home.v6, home.v4], prefixes: [] });
  }
  dp.addEndpoint(addr.anchorOut.v6, 0, ['decap', 'mh']);
  dp.addEndpoint(addr.anchorOut.v4, 0, ['decap']);
  dp.addEndpoint(addr.anchorOut.v4, DSMIP_PORT, ['decap', 'mh']);
}
