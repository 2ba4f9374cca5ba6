/**
 * The numbers of the Mobility Header (RFC 6275 §6.1) and its options: every
 * value the codec writes or recognises lives here, once. Values are the IANA
 * "Mobility IPv6 parameters" registry (../shared/specs/README.md), not the
 * drafts' TBDs.
 */

/** IP protocol number of the Mobility Header. */
export const IPPROTO_MH = 135;
/** The MH's Payload Proto field: no next header (RFC 6275 §6.1.1 says SHOULD). */
export const IPPROTO_NONE = 59;
/** Offset of the 16-bit checksum in the MH (what IPV6_CHECKSUM is set to on a raw socket). */
export const MH_CHECKSUM_OFFSET = 4;
/** Header Len counts 8-octet units beyond the first 8: (255 + 1) * 8 octets at most. */
export const MH_MAX_LENGTH = 2048;
/** Lifetimes and refresh intervals travel in units of 4 seconds (RFC 6275 §6.1.7, §6.2.4). */
export const LIFETIME_UNIT = 4;
export const LIFETIME_MAX = 0xffff * LIFETIME_UNIT;

export const MhType = {
  bindingRefreshRequest: 0,
  homeTestInit: 1,
  careOfTestInit: 2,
  homeTest: 3,
  careOfTest: 4,
  bindingUpdate: 5,
  bindingAcknowledgement: 6,
  bindingError: 7,
  bindingRevocation: 16, // RFC 5846
} as const;

/** Binding Update flags in the final IANA positions (the drafts put F and T right after R). */
export const BuFlag = {
  a: 0x8000, h: 0x4000, l: 0x2000, k: 0x1000, m: 0x0800, r: 0x0400, p: 0x0200, f: 0x0100, t: 0x0080,
} as const;
/** Binding Acknowledgement flags (one octet after Status). */
export const BaFlag = { k: 0x80, r: 0x40, p: 0x20, t: 0x10 } as const;
/** Binding Revocation Indication / Acknowledgement flags (RFC 5846 §6.1, §6.2). */
export const BrFlag = { p: 0x8000, v: 0x4000, g: 0x2000 } as const;

/** Binding Revocation message B.R. Type (RFC 5846 §6). */
export const BrType = { indication: 1, acknowledgement: 2 } as const;

/** Binding Acknowledgement status codes (IANA). The draft's 144 "cannot force UDP" is not one. */
export const BaStatus = {
  accepted: 0,
  acceptedPrefixDiscoveryNecessary: 1,
  reasonUnspecified: 128,
  administrativelyProhibited: 129,
  insufficientResources: 130,
  homeRegistrationNotSupported: 131,
  notHomeSubnet: 132,
  notHomeAgentForThisMobileNode: 133,
  duplicateAddressDetectionFailed: 134,
  sequenceNumberOutOfWindow: 135,
  expiredHomeNonceIndex: 136,
  expiredCareOfNonceIndex: 137,
  expiredNonces: 138,
  registrationTypeChangeDisallowed: 139,
  mobileRouterOperationNotPermitted: 140, // RFC 3963
  invalidPrefix: 141,
  notAuthorizedForPrefix: 142,
  forwardingSetupFailed: 143,
  mipv6IdMismatch: 144, // RFC 4285
  mipv6MesgIdReqd: 145,
  mipv6AuthFail: 146,
  proxyRegNotEnabled: 152, // RFC 5213
  notLmaForThisMobileNode: 153,
  magNotAuthorizedForProxyReg: 154,
  notAuthorizedForHomeNetworkPrefix: 155,
  timestampMismatch: 156,
  timestampLowerThanPrevAccepted: 157,
  missingHomeNetworkPrefixOption: 158,
  bcePbuPrefixSetDoNotMatch: 159,
  missingMnIdentifierOption: 160,
  missingHandoffIndicatorOption: 161,
  missingAccessTechTypeOption: 162,
  greKeyOptionRequired: 163, // RFC 5845
  notAuthorizedForIpv4MobilityService: 170, // RFC 5844
  notAuthorizedForIpv4HomeAddress: 171,
  notAuthorizedForIpv6MobilityService: 172,
  multipleIpv4HomeAddressAssignmentNotSupported: 173,
  invalidCareOfAddress: 174, // RFC 5555
} as const;

/** Binding Error status (RFC 6275 §6.1.9). */
export const BeStatus = { unknownBindingForHomeAddressOption: 1, unrecognizedMhType: 2 } as const;

/** Revocation Trigger of a Binding Revocation Indication (RFC 5846 §6.1). */
export const RevocationTrigger = {
  unspecified: 0,
  administrativeReason: 1,
  interMagHandoverSameAccessType: 2,
  interMagHandoverDifferentAccessType: 3,
  interMagHandoverUnknown: 4,
  userInitiatedSessionTermination: 5,
  accessNetworkSessionTermination: 6,
  possibleOutOfSyncBceState: 7,
  perPeerPolicy: 128,
  revokingMobilityNodeLocalPolicy: 129,
} as const;

/** Status of a Binding Revocation Acknowledgement (RFC 5846 §6.2). */
export const BraStatus = {
  success: 0,
  partialSuccess: 1,
  bindingDoesNotExist: 128,
  ipv4HomeAddressOptionRequired: 129,
  globalRevocationNotAuthorized: 130,
  revokedMobileNodesIdentityRequired: 131,
  revocationFailedMnIsAttached: 132,
  revocationTriggerNotSupported: 133,
  revocationFunctionNotSupported: 134,
  proxyBindingRevocationNotSupported: 135,
} as const;

/** Mobility option types (IANA); the keys are the `type` names of MobilityOption. */
export const OptionType = {
  pad1: 0,
  padN: 1,
  bindingRefreshAdvice: 2,
  alternateCareOfAddress: 3,
  nonceIndices: 4,
  bindingAuthorizationData: 5,
  mobileNetworkPrefix: 6, // RFC 3963
  mobileNodeIdentifier: 8, // RFC 4283
  mobilityMessageAuthentication: 9, // RFC 4285
  replayProtection: 10, // RFC 4285 (MESG-ID)
  homeNetworkPrefix: 22, // RFC 5213
  handoffIndicator: 23,
  accessTechnologyType: 24,
  mnLinkLayerIdentifier: 25,
  linkLocalAddress: 26,
  timestamp: 27,
  ipv4HomeAddress: 29, // RFC 5555
  ipv4AddressAcknowledgement: 30,
  natDetection: 31,
  ipv4CareOfAddress: 32,
  greKey: 33, // RFC 5845
  ipv4HomeAddressRequest: 36, // RFC 5844
  ipv4HomeAddressReply: 37,
  ipv4DefaultRouterAddress: 38,
  ipv4DhcpSupportMode: 39,
} as const;

/** Mobile Node Identifier subtypes (RFC 4283). */
export const MnIdSubtype = { nai: 1 } as const;
/** Mobility Message Authentication subtypes (RFC 4285 §5); SPIs 0–255 are reserved. */
export const AuthSubtype = { mnHa: 1, mnAaa: 2 } as const;

/** IPv4 Address Acknowledgement status (RFC 5555 §3.2.1). */
export const Ipv4AckStatus = {
  success: 0,
  reasonUnspecified: 128,
  administrativelyProhibited: 129,
  incorrectIpv4HomeAddress: 130,
  invalidIpv4Address: 131,
  dynamicIpv4HomeAddressAssignmentNotAvailable: 132,
  prefixAllocationUnauthorized: 133,
} as const;
/** IPv4 Home Address Reply status (RFC 5844 §3.3.2): as above without 133. */
export const Ipv4HomeAddressReplyStatus = {
  success: 0,
  reasonUnspecified: 128,
  administrativelyProhibited: 129,
  incorrectIpv4HomeAddress: 130,
  invalidIpv4Address: 131,
  dynamicIpv4HomeAddressAssignmentNotAvailable: 132,
} as const;

/** Handoff Indicator values (RFC 5213 §8.4). */
export const HandoffIndicator = {
  attachmentOverNewInterface: 1,
  handoffBetweenInterfaces: 2,
  handoffBetweenMags: 3,
  unknown: 4,
  notChanged: 5,
} as const;

/** Access Technology Type values (RFC 5213 §8.5). */
export const AccessTechnologyType = { virtual: 1, ppp: 2, ieee8023: 3, ieee80211: 4, ieee80216e: 5 } as const;

/** NAT Detection refresh time meaning "no keepalives needed" (RFC 5555 §3.2.2). */
export const NAT_REFRESH_NONE = 0xffffffff;

/** The name of `code` in one of the tables above, e.g. codeName(BaStatus, 146) → 'mipv6AuthFail'. */
export function codeName<T extends Record<string, number>>(table: T, code: number): keyof T | undefined {
  return (Object.keys(table) as (keyof T)[]).find((k) => table[k] === code);
}
