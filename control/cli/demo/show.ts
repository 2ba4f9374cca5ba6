/** Small printers shared by the demo's parts. */
import type { BindingCacheEntry } from '../../ha/home-agent.js';

export function nonZero(counters: Record<string, bigint>): string {
  const parts = Object.entries(counters).filter(([, v]) => v > 0n).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(' ') : 'none';
}

export function tunnelText(t: BindingCacheEntry['tunnel']): string {
  if (!('localPort' in t)) return `${t.format} ${t.local} → ${t.remote}`;
  return `${t.format} ${t.local}:${t.localPort} → ${t.remote}:${t.remotePort}`;
}

/** The home agent's binding cache as an operator would want to read it. */
export function bindingCacheTable(entries: readonly BindingCacheEntry[], nowMs: number): string {
  if (entries.length === 0) return '  (empty)';
  const rows = entries.map((e) => [e.nai, e.homeAddress, e.ipv4HomeAddress ?? '-', e.careOf, tunnelText(e.tunnel), e.natDetected ? 'yes' : 'no',
    `${Math.round((e.expiresMs - nowMs) / 1000)} s`, String(e.sequence)]);
  const head = ['NAI', 'home address', 'IPv4 home', 'care-of', 'tunnel', 'NAT', 'expires in', 'seq'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`).join('\n');
}
