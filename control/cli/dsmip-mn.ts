#!/usr/bin/env node
/**
 * dsmip-mn: a DSMIPv6 mobile node.
 *
 *   dsmip-mn --config FILE [--instance NAME]
 *
 * Run it in the node's network namespace (`nsenter --net=/run/netns/NS`
 * keeps the host's bpffs). It sets up mip0 with the home addresses and its
 * own data plane (mobile role) on the configured interfaces, registers from
 * the first one that is up with an address, refreshes before expiry (and at
 * the NAT refresh time), and re-registers on SIGHUP, which is how it is told
 * it has moved. SIGTERM/SIGINT stop it; its pinned data plane stays.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../config/load.js';
import { DataPlane } from '../dataplane/dataplane.js';
import { parseMobileNodeConfig } from '../mn/config.js';
import { MobileNodeDaemon } from '../mn/daemon.js';

const { values } = parseArgs({ options: { config: { type: 'string' }, instance: { type: 'string', default: 'dsmip-mn' } } });
const log = pino({ name: 'dsmip-mn' });

if (!values.config) {
  process.stderr.write('usage: dsmip-mn --config FILE [--instance NAME]\n');
  process.exit(2);
}
const config = loadConfig('dsmip-mn', values.config, parseMobileNodeConfig);
const ipv4 = config.ipv4HomeAddress !== 'dynamic' ? config.ipv4HomeAddress : undefined;
const dataPlane = DataPlane.open({ instance: values.instance, role: 'mobile', icmpSource6: config.homeAddress, ...(ipv4 && { icmpSource4: ipv4 }) });
const daemon = new MobileNodeDaemon(config, dataPlane, { log: (event) => log.info(event) });
daemon.start();
log.info({ instance: values.instance, nai: config.nai }, 'running');

process.on('SIGHUP', () => daemon.moved());
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    daemon.stop();
    dataPlane.close();
    log.info({ signal }, 'stopped');
    process.exit(0);
  });
}
