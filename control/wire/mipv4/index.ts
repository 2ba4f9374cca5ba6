/** Mobile IPv4 (RFC 5944) with NAI, UDP tunnelling and dual-stack extensions, and the agent advertisement. */
export * from './constants.js';
export * from './extensions.js';
export * from './registration.js';
export * from './agent-advertisement.js';
