/**
 * Message authentication: RFC 4285 MN-HA for Mobility Headers (mipv6.ts)
 * with its replay protection (replay.ts), the Mobile IPv4 authentication
 * extensions (mipv4.ts), and the keyed hashes they share (crypto.ts).
 */
export * from './crypto.js';
export * from './mipv6.js';
export * from './replay.js';
export * from './mipv4.js';
