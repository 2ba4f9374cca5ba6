/** DHCPv4 (RFC 2131/2132) as a MAG speaks it to unmodified hosts. */
export * from './constants.js';
export * from './options.js';
export * from './message.js';
