#!/usr/bin/env -S node --max-semi-space-size=32 --single-threaded-gc
/**
 * dsmipd: the DSMIPv6 home agent daemon.
 *
 *   dsmipd --config FILE [--instance NAME] [--attach IF,IF…] [--tc-egress IF] [--journal FILE]
 *          [--api HOST:PORT | --api off] [--api-token TOKEN] [--capture FILE.pcap] [--log-level debug|info|warn]
 *
 * The REST API (and /metrics) listens on 127.0.0.1:9180 unless told
 * otherwise; anywhere else it needs a bearer token (--api-token, or the
 * environment's DSMIPD_API_TOKEN). Profiles changed through it are saved
 * to the configuration file.
 *
 * Run it in the home agent's network namespace (`nsenter --net=/run/netns/NS`
 * keeps the host's bpffs; `ip netns exec` would hide the pinned maps). It opens
 * (or resumes) the pinned data plane, attaches it where told, and serves
 * Binding Updates until SIGTERM/SIGINT, after which the data plane keeps
 * forwarding for the next start.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../config/load.js';
import { DataPlane } from '../dataplane/dataplane.js';
import { parseHomeAgentConfig } from '../ha/config.js';
import type { FastifyInstance } from 'fastify';
import { createMetrics } from '../api/metrics.js';
import { startApi } from '../api/server.js';
import { HomeAgentDaemon } from '../ha/daemon.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    instance: { type: 'string', default: 'dsmipd' },
    attach: { type: 'string', default: '' },
    'tc-egress': { type: 'string' },
    capture: { type: 'string' },
    journal: { type: 'string' },
    api: { type: 'string', default: '127.0.0.1:9180' },
    'api-token': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  },
});
/** Every BU's outcome is logged: accepted ones at info, refusals and discards at warn (at tens of thousands a second, `--log-level warn`). */
const LEVELS = ['debug', 'info', 'warn']; // (nothing is logged at error: failures are warnings, the daemon goes on)

if (!values.config || !LEVELS.includes(values['log-level'])) {
  process.stderr.write(`usage: dsmipd --config FILE [--instance NAME] [--attach IF,IF...] [--tc-egress IF] [--journal FILE] [--api HOST:PORT|off] [--api-token T] [--capture FILE.pcap] [--log-level ${LEVELS.join('|')}]\n`);
  process.exit(2);
}
const log = pino({ name: 'dsmipd', level: values['log-level'] });
const config = loadConfig('dsmipd', values.config, parseHomeAgentConfig);
const dataPlane = DataPlane.open({ instance: values.instance, role: 'anchor', icmpSource6: config.homeAgent.ipv6, ...(config.homeAgent.ipv4 && { icmpSource4: config.homeAgent.ipv4 }) });
for (const ifname of values.attach.split(',').filter(Boolean)) log.info({ ifname, mode: dataPlane.attach(ifname) }, 'attached');
if (values['tc-egress']) dataPlane.attachTcEgress(values['tc-egress']);
const daemon = new HomeAgentDaemon(config, dataPlane, {
  log: (event, level) => log[level](event), logLevel: values['log-level'] === 'warn' ? 'warn' : 'info', configPath: values.config,
  ...(values.capture && { capture: values.capture }), ...(values.journal && { journal: values.journal }),
});
daemon.start();
log.info({ instance: values.instance, resumed: dataPlane.resumed, ...(dataPlane.carriedOver.length && { carriedOver: dataPlane.carriedOver }), ...(dataPlane.droppedLinks.length && { droppedLinks: dataPlane.droppedLinks }), bindings: dataPlane.bindingIds().length, cached: daemon.homeAgent.bindings().length }, 'serving');

let api: FastifyInstance | null = null;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await api?.close();
    daemon.stop();
    dataPlane.close(); // the pinned data plane keeps forwarding
    log.info({ signal }, 'stopped');
    process.exit(0);
  });
}

if (values.api !== 'off') {
  const at = values.api.lastIndexOf(':');
  const host = values.api.slice(0, at).replace(/^\[|\]$/g, '');
  const token = values['api-token'] ?? process.env.DSMIPD_API_TOKEN;
  api = await startApi(daemon, dataPlane, createMetrics(daemon, dataPlane), { host, port: Number(values.api.slice(at + 1)), ...(token && { token }) });
  log.info({ api: values.api }, 'REST API listening');
}
