/**
 * The numbers of Mobile IPv4 (RFC 5944) and the extensions the dual-stack
 * home agent speaks: every value the codecs write or recognise lives here,
 * once. Values are IANA's "Mobile IPv4 Numbers" registry, cross-checked
 * against Wireshark's packet-mip.c tables; where a draft said TBD the final
 * number is used (see the notes at DualStackSubType).
 */

/** UDP port of Mobile IPv4 registration (RFC 5944 §3.1). */
export const MIP4_PORT = 434;

export const Mip4MessageType = {
  registrationRequest: 1,
  registrationReply: 3,
} as const;

/** Fixed part of each message, before the extensions (RFC 5944 §3.3, §3.4). */
export const REQUEST_FIXED_LENGTH = 24;
export const REPLY_FIXED_LENGTH = 20;

/** Registration lifetime 0xffff means infinity (RFC 5944 §3.3). */
export const LIFETIME_INFINITE = 0xffff;

/**
 * Registration Request flags, the octet after Type (RFC 5944 §3.3:
 * S B D M G r T x). r was V (Van Jacobson) in RFC 2002/3344 and x is
 * reserved: both are sent as zero, and reported on receipt as found.
 */
export const RequestFlag = {
  simultaneousBindings: 0x80, // S
  broadcast: 0x40, // B
  decapsulationByMobileNode: 0x20, // D (co-located care-of address)
  minimalEncapsulation: 0x10, // M
  gre: 0x08, // G
  reservedR: 0x04, // r
  reverseTunneling: 0x02, // T (RFC 3024)
  reservedX: 0x01, // x
} as const;

/** Extension types in registration messages (IANA; 0–127 non-skippable, 128–255 skippable). */
export const Mip4ExtType = {
  mnHaAuth: 32, // RFC 5944 §3.5.2
  mnFaAuth: 33, // RFC 5944 §3.5.3
  faHaAuth: 34, // RFC 5944 §3.5.4
  udpTunnelReply: 44, // RFC 3519 §3.2 (non-skippable)
  nai: 131, // RFC 2794
  udpTunnelRequest: 144, // RFC 3519 §3.1 (skippable)
  dualStack: 152, // RFC 5454 "Dual Stack (DSMIPv4) Extension", sub-typed
} as const;

/** Extension types below this one are non-skippable: an unknown one voids the message (RFC 5944 §1.9). */
export const FIRST_SKIPPABLE_EXT = 128;

/** Authentication extensions: Type, Length, SPI (32 bits), Authenticator (RFC 5944 §3.5.1). */
export const AUTH_SPI_LENGTH = 4;
/** Default authenticator: HMAC-MD5, 128 bits (RFC 5944 §3.5.1). */
export const AUTHENTICATOR_LENGTH = 16;

/**
 * Sub-types of the Dual Stack extension (type 152). RFC 5454 §2 replaced
 * the three separately typed extensions of draft-tsirtsis-v4v6-mipv4-00 §3
 * with one skippable, short-format extension (Type, Length, Sub-Type, …):
 *   draft "IPv6 Home Address" (sub-type 1, 16-byte address)
 *     → 1 IPv6 Prefix Request (prefix length + 16-byte home network prefix)
 *   draft "IPv6 Code" (Code, Rsvd)
 *     → 2 IPv6 Prefix Reply (code + prefix length + prefix)
 *   draft "IPv6 Compatibility" (R flag: tunnel IPv6 to the CoA)
 *     → 3 IPv6 Tunneling Mode (presence = "explicit mode": IPv6 tunnelled
 *       to the care-of address; absence = tunnelled to the IPv4 home address)
 * Checked: 152 is "Dual Stack (DSMIPv4) Extension [RFC5454]" in IANA's
 * registry and Wireshark's table (tshark 4.0 names it, without sub-type
 * fields), and RFC 5454's contents list §2.1–§2.3 in this order. The
 * sub-type numbers and field layouts follow RFC 5454 §2 as we know it; its
 * body could not be read from here to confirm them byte by byte.
 */
export const DualStackSubType = {
  ipv6PrefixRequest: 1,
  ipv6PrefixReply: 2,
  ipv6TunnelingMode: 3,
} as const;

/** Length field (after Type and Length) of each dual-stack sub-type. */
export const DUAL_STACK_LENGTH = {
  ipv6PrefixRequest: 18, // sub-type, prefix length, prefix (16)
  ipv6PrefixReply: 19, // sub-type, code, prefix length, prefix (16)
  ipv6TunnelingMode: 2, // sub-type, reserved
} as const;

/**
 * IPv6 Prefix Reply codes (IANA "IPv6 Prefix Reply Extension Codes",
 * RFC 5454 §2.2). The draft's IPv6 Code extension had 0 = tunnel to CoA,
 * 2 = tunnel to HoA, 64/65 FA denials, 128/129 HA denials; RFC 5454 numbers
 * the two acceptances 0 (to the home address, implicit mode) and 1 (to the
 * care-of address, explicit mode). Codes below 128 accept the IPv6 part;
 * any other value is carried as a number.
 */
export const Ipv6PrefixReplyCode = {
  acceptedTunnelToHomeAddress: 0,
  acceptedTunnelToCareOfAddress: 1,
  reasonUnspecified: 128,
  administrativelyProhibited: 129,
} as const;

/** UDP Tunnel Request flags (RFC 3519 §3.1): the octet after Reserved 1. */
export const UdpTunnelRequestFlag = { force: 0x80, faRegistrationRequired: 0x40 } as const;
/** UDP Tunnel Reply flags (RFC 3519 §3.2): the 16 bits after Reply Code. */
export const UdpTunnelReplyFlag = { forced: 0x8000 } as const;
/** UDP Tunnel Request/Reply Length field: always 6 (RFC 3519 §3.1, §3.2). */
export const UDP_TUNNEL_EXT_LENGTH = 6;

/** Encapsulation of the UDP Tunnel Request (RFC 3519 §3.1): the IP protocol of the tunnelled header. */
export const UdpTunnelEncapsulation = { ipInIp: 4, gre: 47, minimal: 55 } as const;

/** UDP Tunnel Reply codes (RFC 3519 §3.2). */
export const UdpTunnelReplyCode = { willDoTunneling: 0, declinedUnspecified: 64 } as const;

/**
 * Registration Reply codes (RFC 5944 §3.4, plus the NAI codes of RFC 2794
 * and the UDP code of RFC 3519). 0–1 accept; 64–127 are the foreign agent's
 * denials; 128–191 the home agent's.
 */
export const ReplyCode = {
  accepted: 0,
  acceptedNoSimultaneousBindings: 1,
  // denied by the foreign agent
  faReasonUnspecified: 64,
  faAdministrativelyProhibited: 65,
  faInsufficientResources: 66,
  faMobileNodeFailedAuthentication: 67,
  faHomeAgentFailedAuthentication: 68,
  faLifetimeTooLong: 69,
  faPoorlyFormedRequest: 70,
  faPoorlyFormedReply: 71,
  faEncapsulationUnavailable: 72,
  faReservedUnavailable: 73, // was VJ compression
  faReverseTunnelUnavailable: 74, // RFC 3024
  faReverseTunnelMandatory: 75, // RFC 3024: T bit not set
  faMobileNodeTooDistant: 76, // RFC 3024
  faInvalidCareOfAddress: 77,
  faRegistrationTimeout: 78,
  faDeliveryStyleNotSupported: 79, // RFC 3024
  faHomeNetworkUnreachable: 80,
  faHomeAgentHostUnreachable: 81,
  faHomeAgentPortUnreachable: 82,
  faHomeAgentUnreachable: 88,
  faNonZeroHomeAddressRequired: 96, // RFC 2794
  faMissingNai: 97, // RFC 2794
  faMissingHomeAgent: 98, // RFC 2794
  faMissingHomeAddress: 99, // RFC 2794
  // denied by the home agent
  haReasonUnspecified: 128,
  haAdministrativelyProhibited: 129,
  haInsufficientResources: 130,
  haMobileNodeFailedAuthentication: 131,
  haForeignAgentFailedAuthentication: 132,
  haIdentificationMismatch: 133,
  haPoorlyFormedRequest: 134,
  haTooManySimultaneousBindings: 135,
  haUnknownHomeAgentAddress: 136,
  haReverseTunnelUnavailable: 137, // RFC 3024
  haReverseTunnelMandatory: 138, // RFC 3024: T bit not set
  haEncapsulationUnavailable: 139, // RFC 3024
  haUdpEncapsulationUnavailable: 142, // RFC 3519
} as const;

/* ---- Agent Advertisement (RFC 5944 §2.1): ICMP Router Advertisement (RFC 1256) plus extensions ---- */

export const ICMP_ROUTER_ADVERTISEMENT = 9;
/** Code 16: the agent does not route common traffic, only mobility (RFC 5944 §2.1). */
export const RouterAdvertisementCode = { normal: 0, mobilityOnly: 16 } as const;
/** Router address entries are two 32-bit words: address and preference (RFC 1256). */
export const ROUTER_ENTRY_WORDS = 2;
/** ICMP header (type, code, checksum) + num addrs, entry size, lifetime. */
export const ROUTER_ADVERTISEMENT_HEADER = 8;

/** Extension types in ICMP Router Discovery messages (a numbering space of its own, RFC 5944 §2.1). */
export const AgentAdvExtType = {
  pad: 0, // one byte, no Length
  mobilityAgent: 16,
  prefixLengths: 19,
} as const;

/** Mobility Agent Advertisement extension: Length = 6 + 4 × care-of addresses. */
export const MOBILITY_AGENT_FIXED_LENGTH = 6;

/**
 * Flags of the Mobility Agent Advertisement extension, the 16 bits after
 * Registration Lifetime (RFC 5944 §2.1.1: R B H F M G r T U X I, then 5
 * reserved bits). The dual-stack A flag: draft-tsirtsis-v4v6-mipv4-00 §2
 * drew it as the 11th bit (|R|B|H|F|M|G|V|T|S|I|A|), but bits 8–10 are now
 * U (RFC 3519), X (RFC 3543) and I (RFC 4857), so the draft's position would
 * collide with I. We found no agent advertisement flag in RFC 5454 (what we
 * could read of it: the three extensions and registration processing; the
 * mobile node learns that the HA is dual-stack from the IPv6 Prefix Reply).
 * So A takes the first bit still reserved, 0x0010 (bit 11), with the
 * draft's meaning; it is not an IANA number. tshark 4.0 shows it inside
 * icmp.mip.reserved (mask 0x003f, which also holds I).
 */
export const AgentAdvFlag = {
  registrationRequired: 0x8000, // R
  busy: 0x4000, // B
  homeAgent: 0x2000, // H
  foreignAgent: 0x1000, // F
  minimalEncapsulation: 0x0800, // M
  gre: 0x0400, // G
  reservedR: 0x0200, // r (was V, Van Jacobson)
  reverseTunneling: 0x0100, // T (RFC 3024)
  udpTunneling: 0x0080, // U (RFC 3519)
  revocation: 0x0040, // X (RFC 3543)
  regionalRegistration: 0x0020, // I (RFC 4857)
  ipv6: 0x0010, // A (draft-tsirtsis §2; see above)
} as const;
