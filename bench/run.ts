/**
 * `make bench`: the anchor's data plane against its baselines, on this
 * machine, in one run.
 *
 *   1. ns/packet per path by BPF_PROG_TEST_RUN beside a minimal XDP_TX
 *      program (testrun.ts)
 *   2. Mpps forwarded between namespaces by the kernel, a pure XDP redirect
 *      forwarder and the anchor (forward.ts)
 *   3. wire formats (wire.ts)
 *   4. the home agent's authenticated BU → BA transactions with 100,000
 *      bindings present (home-agent.ts)
 *   5. the home agent under a signalling flood (flood.ts)
 *   6. fuzzing of the decoders and state machines (fuzz.ts)
 *
 * Prints a table headed with the machine and writes bench/results.json
 * (report.ts). Everything it creates (namespaces, the pinned data-plane
 * instance, attached programs) is removed at the end, on failure and on
 * SIGINT/SIGTERM; leftovers of a killed run are removed at the start.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataPlane, PIN_ROOT, packageRoot } from '../control/dataplane/dataplane.js';
import { LibbpfError } from '../control/dataplane/libbpf.js';
import { installBindings } from './bindings.js';
import { measureForwarding } from './forward.js';
import { BenchObject } from './programs.js';
import { report, rows } from './report.js';
import { wireBench, wireRows, wireTable } from './wire.js';
import { homeAgentRows, homeAgentTable, measureHomeAgent } from './home-agent.js';
import { floodRows, floodTable, measureFlood } from './flood.js';
import { fuzzBench, fuzzRows, fuzzTable } from './fuzz.js';
import { measureTestRun } from './testrun.js';
import { addr, buildTopology, type Topology } from './topology.js';

const LAB_PREFIX = 'mabench';
const INSTANCE = 'bench';
const RESULTS = join(packageRoot, 'bench/results.json');

const log = (s: string) => process.stderr.write(`${s}\n`);

let topo: Topology | undefined;
let dp: DataPlane | undefined;
let bench: BenchObject | undefined;

function cleanup(): void {
  const steps: [string, () => void][] = [
    ['bench object', () => bench?.close()],
    ['data plane', () => dp?.destroy()],
    ['namespaces', () => topo?.lab.destroy()],
  ];
  for (const [what, step] of steps) {
    try { step(); } catch (err) { log(`cleanup: ${what}: ${(err as Error).message}`); }
  }
  bench = undefined;
  dp = undefined;
  topo = undefined;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`\n${sig}: cleaning up`);
    cleanup();
    process.exit(130);
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (namespaces, BPF)');
  rmSync(join(PIN_ROOT, INSTANCE), { recursive: true, force: true }); // a killed run's pins
  topo = buildTopology(LAB_PREFIX); // replaces a killed run's namespaces of the same names
  dp = DataPlane.open({ instance: INSTANCE, role: 'anchor', icmpSource4: addr.anchorIn.v4, icmpSource6: addr.anchorIn.v6 });
  installBindings(dp);
  bench = new BenchObject(dp);

  log('BPF_PROG_TEST_RUN per path ...');
  const tr = await measureTestRun(topo, dp, bench, log);
  log('forwarding between namespaces ...');
  const fw = await measureForwarding(topo, dp, bench, [{ family: 6, format: 'ip6' }, { family: 4, format: 'udp4' }], log);

  log('wire formats ...');
  const wire = wireBench();

  cleanup(); // the home agent's bench brings its own namespaces and data plane
  log('home agent: BU → BA ...');
  const ha = await measureHomeAgent(log);
  log('flood ...');
  const flood = await measureFlood(log);
  log('fuzzing ...');
  const fuzzed = fuzzBench();

  const { text } = report(tr, fw);
  process.stdout.write(`\n${text}\n\n${wireTable(wire)}\n\n${homeAgentTable(ha)}\n\n${floodTable(flood)}\n\n${fuzzTable(fuzzed)}\n`);
  writeFileSync(RESULTS, `${JSON.stringify([...rows(tr, fw), ...wireRows(wire), ...homeAgentRows(ha), ...floodRows(flood), ...fuzzRows(fuzzed)], null, 2)}\n`);
  log(`\nwrote ${RESULTS}`);
}

try {
  await main();
} catch (err) {
  if (err instanceof LibbpfError && err.code === -4 /* EINTR */) {
    log('interrupted');
    process.exitCode = 130;
  } else {
    log(`bench failed: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
  }
} finally {
  cleanup();
}
