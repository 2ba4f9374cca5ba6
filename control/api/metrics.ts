/**
 * Prometheus metrics (prom-client), read at scrape time from where they
 * live: the binding cache, the home agent's answers, and the data plane's
 * per-CPU counters in the pinned maps.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { DataPlane } from '../dataplane/dataplane.js';
import type { HomeAgentDaemon } from '../ha/daemon.js';

/** How long one read of the data plane's counters serves: the metrics of one scrape are collected within it. */
const SCRAPE_MS = 250;

/** A counter whose value is kept elsewhere: set from its source at each scrape. */
function mirrored(registry: Registry, name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][]): void {
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
    },
  });
}

export function createMetrics(daemon: HomeAgentDaemon, dataPlane: DataPlane): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'dsmip_bindings', help: 'Live bindings by tunnel format and NAT', labelNames: ['format', 'nat'], registers: [registry],
    collect() {
      this.reset();
      for (const b of daemon.homeAgent.bindings()) this.inc({ format: b.tunnel.format, nat: String(b.natDetected) });
    },
  });
  mirrored(registry, 'dsmip_binding_updates_total', 'Binding Updates answered, by BA status (discarded: malformed, unanswered)', ['result', 'status'],
    () => [...daemon.answered].map(([status, n]) => [status < 0 ? { result: 'discarded', status: 'none' } : { result: status < 128 ? 'accepted' : 'rejected', status: String(status) }, n]));
  mirrored(registry, 'dsmip_binding_updates_predicted_total', 'Binding Updates answered by prediction from their node\'s last accepted one (the fast path; also in dsmip_binding_updates_total, 143 included when the data plane then refused the change)', [],
    () => [[{}, daemon.predictedCount]]);
  mirrored(registry, 'dsmip_dataplane_drops_total', 'Packets the data plane dropped, by reason', ['reason'],
    () => Object.entries(dataPlane.drops()).map(([reason, n]) => [{ reason }, Number(n)]));
  mirrored(registry, 'dsmip_dataplane_events_total', 'What the data plane did besides forwarding, by event', ['event'],
    () => Object.entries(dataPlane.events()).map(([event, n]) => [{ event }, Number(n)]));
  // one pass over the bindings' per-CPU counters serves both tunnel metrics of a scrape
  let sums: { atMs: number; value: Record<'encapPackets' | 'encapBytes' | 'decapPackets' | 'decapBytes', number> } | undefined;
  const tunnelled = () => {
    const nowMs = Date.now();
    if (!sums || nowMs - sums.atMs > SCRAPE_MS) sums = { atMs: nowMs, value: sumTunnels() };
    return sums.value;
  };
  const sumTunnels = () => {
    const r = daemon.retired; // bindings removed since start still count: the totals never go back
    const sum = { encapPackets: Number(r.encapPackets), encapBytes: Number(r.encapBytes), decapPackets: Number(r.decapPackets), decapBytes: Number(r.decapBytes) };
    for (const id of dataPlane.bindingIds()) {
      const c = dataPlane.bindingCounters(id);
      for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += Number(c[k]);
    }
    return sum;
  };
  mirrored(registry, 'dsmip_tunnel_packets_total', 'Packets through the live bindings\' tunnels (encap: towards the nodes)', ['direction'],
    () => { const s = tunnelled(); return [[{ direction: 'encap' }, s.encapPackets], [{ direction: 'decap' }, s.decapPackets]]; });
  mirrored(registry, 'dsmip_tunnel_bytes_total', 'Bytes through the live bindings\' tunnels (encap: towards the nodes)', ['direction'],
    () => { const s = tunnelled(); return [[{ direction: 'encap' }, s.encapBytes], [{ direction: 'decap' }, s.decapBytes]]; });
  mirrored(registry, 'dsmip_signalling_send_errors_total', 'Replies the home agent could not send (no route back, say)', [], () => [[{}, daemon.failures.send]]);
  mirrored(registry, 'dsmip_journal_errors_total', 'Binding cache changes the journal could not take (a restart would lose them)', [], () => [[{}, daemon.failures.journal]]);
  mirrored(registry, 'dsmip_internal_errors_total', 'Signalling batches or expiry runs that failed unexpectedly (logged)', [], () => [[{}, daemon.failures.internal]]);
  mirrored(registry, 'dsmip_icmp_errors_total', 'ICMPv6 Parameter Problems for discarded BUs (RFC 8200 §4.2): sent (handed to the socket; one it refused is also a send error), or held back by the rate limit', ['outcome'],
    () => [[{ outcome: 'sent' }, daemon.icmpErrors.sent], [{ outcome: 'limited' }, daemon.icmpErrors.limited]]);
  mirrored(registry, 'dsmip_capture_errors_total', 'Signalling packets the --capture file did not take (a full disk, say; the packets went on regardless)', [], () => [[{}, daemon.failures.capture]]);
  mirrored(registry, 'dsmip_signalling_rate_limited_total', 'Signalling packets dropped by the per-source rate limit', [], () => [[{}, daemon.limiter.limited]]);
  new Gauge({
    name: 'dsmip_signalling_sources', help: 'Signalling sources the rate limiter remembers (bounded)', registers: [registry],
    collect() { this.set(daemon.limiter.sources); },
  });
  return registry;
}
