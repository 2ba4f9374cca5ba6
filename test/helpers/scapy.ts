/**
 * Packets built by scapy (Debian's python3-scapy under /usr/bin/python3): an
 * implementation we did not write, used as the oracle for what bytes a
 * packet should have.
 */
import { execFileSync } from 'node:child_process';

const PRELUDE = `
import sys, json, binascii
from scapy.all import Ether, ARP, IP, IPv6, UDP, TCP, ICMP, Raw, IPOption_NOP, IPOption_EOL, HBHOptUnknown, PadN, ICMPv6DestUnreach, ICMPv6EchoRequest, ICMPv6PacketTooBig, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrFragment
from scapy.layers.inet6 import HAO, MIP6MH_BU, MIP6MH_BA, MIP6OptUnknown, IPv6ExtHdrSegmentRouting
from scapy.layers.inet6 import MIP6MH_BRR, MIP6MH_BE, MIP6MH_HoTI, MIP6MH_CoTI, MIP6MH_HoT, MIP6MH_CoT, MIP6OptBRAdvice, MIP6OptAltCoA, MIP6OptNonceIndices, MIP6OptBindingAuthData, MIP6OptMobNetPrefix, MIP6OptLLAddr, MIP6OptMNID, MIP6OptMsgAuth, MIP6OptReplayProtection, MIP6OptCGAParamsReq, MIP6OptCGAParams, MIP6OptSignature, MIP6OptHomeKeygenToken, MIP6OptCareOfTestInit, MIP6OptCareOfTest
from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr
from scapy.layers.mobileip import MobileIP, MobileIPRRQ, MobileIPRRP
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.packet import Packet
from scapy.fields import ByteField, ShortField
class TLV(Packet):
    name = "DSMIPv6 TLV header"
    fields_desc = [ByteField("type", 2), ByteField("len", 0), ShortField("reserved", 0)]
`;

/** Evaluates each scapy expression and returns its bytes. */
export function scapy<K extends string>(exprs: Record<K, string>): Record<K, Buffer> {
  const script = `${PRELUDE}
exprs = json.loads(sys.stdin.read())
out = {}
for name, expr in exprs.items():
    out[name] = binascii.hexlify(bytes(eval(expr))).decode()
print(json.dumps(out))
`;
  const json = execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(exprs), encoding: 'utf8' });
  const hex = JSON.parse(json) as Record<K, string>;
  const out = {} as Record<K, Buffer>;
  for (const k of Object.keys(hex) as K[]) out[k] = Buffer.from(hex[k], 'hex');
  return out;
}
