#!/usr/bin/env node
/**
 * The project's command line. Subcommands:
 *   decode FILE.pcap|HEX…   print every signalling message as JSON
 */
import { decodeInputs, toJson } from './decode.js';

const USAGE = `usage: mobility-anchor decode FILE.pcap|FILE.pcapng|HEX...
  Prints every signalling message (MIPv6/PMIPv6 in IPv6 or UDP 4191/5436,
  Mobile IPv4 on UDP 434, DHCPv4, agent advertisements) as JSON.`;

function main(argv: string[]): number {
  const [command, ...args] = argv;
  if (command === 'decode' && args.length > 0) {
    process.stdout.write(`${toJson(decodeInputs(args))}\n`);
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return command === undefined || command === '--help' || command === '-h' ? 0 : 2;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`mobility-anchor: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
