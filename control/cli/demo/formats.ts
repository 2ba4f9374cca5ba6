/**
 * The demo's second part: the tunnel lab (a correspondent, the anchor, a
 * mobile node on a visited link and one behind a NAT) with every tunnel
 * format put in place by hand, real traffic through each, and what the data
 * plane counted.
 */
import { addr, buildTunnelLab, type MobileNode, type TunnelLab } from '../../lab/tunnel-lab.js';
import { ping, tcpEcho } from '../../lab/traffic.js';
import type { TunnelFormatName } from '../../dataplane/layout.js';
import { nonZero } from './show.js';

const TCP_BYTES = 1024 * 1024;

async function exercise(t: TunnelLab, node: MobileNode, format: TunnelFormatName): Promise<boolean> {
  t.useFormat(node, format);
  const entry = t.anchor.lookupEntry(node.home.v6)!;
  const ports = entry.remotePort ? ` udp ${entry.localPort}→${entry.remotePort}` : '';
  console.log(`\n▶ ${node.name}: ${format} tunnel ${entry.local} → ${entry.remote}${ports}`);
  let ok = true;
  if (node.name === 'mnn') await ping(node.ns, addr.cn.v4, 1); // opens the NAT mapping, as a Binding Update would
  for (const family of ['v6', 'v4'] as const) {
    const home = node.home[family];
    const p = await ping(t.ns.cn, home);
    const tcp = await tcpEcho(node.ns, home, t.ns.cn, TCP_BYTES);
    const good = p.received === p.sent && tcp.ok;
    ok &&= good;
    console.log(`  ${good ? '✔' : '✘'} correspondent → ${home.padEnd(16)} ping ${p.received}/${p.sent}, TCP echo ${tcp.ok ? `${tcp.received} bytes intact` : `failed: ${tcp.error ?? 'mismatch'}`}`);
  }
  const c = t.anchor.bindingCounters(node.bindingId);
  console.log(`  binding ${node.bindingId} at the anchor: encap ${c.encapPackets} packets / ${c.encapBytes} bytes, decap ${c.decapPackets} packets / ${c.decapBytes} bytes`);
  return ok;
}

/** Every format through the anchor, both home addresses, ping and TCP; true if all of it went through. */
export async function tunnelFormats(): Promise<boolean> {
  console.log('Building the tunnel lab: correspondent ─ anchor ─ mobile node, and anchor ─ NAT ─ mobile node …');
  const t = buildTunnelLab('demo');
  let ok = true;
  try {
    for (const format of ['ip6', 'ip4', 'udp4', 'udp4-tlv'] as const) ok = (await exercise(t, t.mn, format)) && ok;
    for (const format of ['udp4', 'udp4-tlv'] as const) ok = (await exercise(t, t.mnn, format)) && ok;
    console.log(`\nAnchor data plane, pinned at ${t.anchor.pinDir}:`);
    console.log(`  attached: ${t.anchor.attachments().join(', ')}`);
    console.log(`  events:   ${nonZero(t.anchor.events())}`);
    console.log(`  drops:    ${nonZero(t.anchor.drops())}`);
  } finally {
    t.destroy();
  }
  return ok;
}
