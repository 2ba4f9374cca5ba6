/**
 * The numbers of DHCPv4 (RFC 2131) and its options (RFC 2132) that a MAG
 * serving unmodified hosts uses: every value the codec writes or
 * recognises lives here, once.
 */

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

export const BootpOp = { request: 1, reply: 2 } as const;

/** ARP hardware type of Ethernet (RFC 1700), the htype hosts send. */
export const HTYPE_ETHERNET = 1;
/** chaddr is 16 bytes, of which hlen are the address. */
export const CHADDR_LENGTH = 16;
export const SNAME_LENGTH = 64;
export const FILE_LENGTH = 128;
/** op … file: the fixed BOOTP header (RFC 2131 §2). */
export const BOOTP_FIXED_LENGTH = 236;
/** 99.130.83.99, the first four option bytes of every DHCP message (RFC 2131 §3). */
export const MAGIC_COOKIE = 0x63825363;
/** Relay agents may drop shorter BOOTP messages (RFC 1542 §2.1), so replies are padded to it. */
export const BOOTP_MIN_LENGTH = 300;
/** The only flag defined (RFC 2131 §2, figure 2); the other 15 bits MUST be zero. */
export const BROADCAST_FLAG = 0x8000;

/** Option 53 values (RFC 2132 §9.6). */
export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageTypeName = keyof typeof DhcpMessageType;

/** Option codes (RFC 2132). */
export const DhcpOptionCode = {
  pad: 0, // §3.1, one byte, no length
  subnetMask: 1, // §3.3
  router: 3, // §3.5, list
  dns: 6, // §3.8, list
  hostname: 12, // §3.14
  requestedIp: 50, // §9.1
  leaseTime: 51, // §9.2
  overload: 52, // §9.3: sname/file carry options — not supported
  messageType: 53, // §9.6
  serverId: 54, // §9.7
  parameterRequestList: 55, // §9.8
  renewalTime: 58, // §9.11, T1
  rebindingTime: 59, // §9.12, T2
  clientId: 61, // §9.14: type byte + identifier
  end: 255, // §3.2, one byte
} as const;

/** Lease time 0xffffffff means infinite (RFC 2131 §3.3). */
export const LEASE_INFINITE = 0xffffffff;
