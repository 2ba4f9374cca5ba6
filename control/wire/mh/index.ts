/**
 * Mobility Header wire format: the `mobilityHeader` codec (BRR, BU/PBU,
 * BA/PBA, BE, Binding Revocation; anything else as 'unsupported'), the
 * mobility options it carries, and the protocol numbers.
 */
export {
  mobilityHeader,
  encodeMobilityHeader,
  decodeMobilityHeader,
  optionLocations,
  NO_BU_FLAGS,
  NO_BA_FLAGS,
} from './messages.js';
export type {
  MobilityHeader,
  BindingRefreshRequest,
  BindingUpdate,
  BindingAcknowledgement,
  BindingError,
  BindingRevocationIndication,
  BindingRevocationAcknowledgement,
  UnsupportedMessage,
  BuFlags,
  BaFlags,
  BrFlags,
  OptionLocation,
} from './messages.js';
export { optionAlignment } from './options.js';
export type { MobilityOption, OptionOf } from './options.js';
export * from './constants.js';
