/**
 * `make demo`: real traffic through the anchor in network namespaces.
 * First our home agent and mobile node, roaming with TCP sessions open
 * (control/cli/demo/roaming.ts); then every tunnel format the data plane
 * speaks (control/cli/demo/formats.ts).
 */
import { tunnelFormats } from './demo/formats.js';
import { roaming } from './demo/roaming.js';

async function main(): Promise<void> {
  const roamed = await roaming();
  console.log('\n' + '─'.repeat(100) + '\n');
  const tunnelled = await tunnelFormats();
  const ok = roamed && tunnelled;
  console.log(ok ? '\nAll traffic went through.' : '\nSome traffic did not go through.');
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
