/** The Mobility Header's own input check: lifetimes travel in 4-second units. */
import { EncodeError } from '../buffer.js';
import { shown } from '../check.js';
import { LIFETIME_MAX, LIFETIME_UNIT } from './constants.js';

/** Seconds → the 16-bit count of 4-second units the wire carries. */
export function fourSecondUnits(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > LIFETIME_MAX || v % LIFETIME_UNIT !== 0) {
    throw new EncodeError(field, shown(v), `seconds must be a multiple of ${LIFETIME_UNIT} in 0..${LIFETIME_MAX}`);
  }
  return v / LIFETIME_UNIT;
}
