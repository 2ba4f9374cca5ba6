/**
 * The roaming lab with a home agent daemon started at its anchor and a
 * mobile node daemon ready (not started) in its node's namespace, both
 * logging to `said` ("ha: …", "mn: …"); the policy given over the lab's.
 */
import { HomeAgentDaemon, type DaemonOptions } from '../../control/ha/daemon.js';
import type { HomeAgentConfig } from '../../control/ha/config.js';
import { buildRoamingLab, type RoamingLab } from '../../control/lab/roaming-lab.js';
import { MobileNodeDaemon } from '../../control/mn/daemon.js';

export interface RoamingPair { t: RoamingLab; ha: HomeAgentDaemon; mn: MobileNodeDaemon; said: string[]; destroy(): void }

export function roamingPair(prefix: string, policy: Partial<HomeAgentConfig['policy']>, options: DaemonOptions = {}): RoamingPair {
  const t = buildRoamingLab(prefix);
  const said: string[] = [];
  let ha: HomeAgentDaemon | undefined;
  try {
    ha = new HomeAgentDaemon({ ...t.haConfig, policy: { ...t.haConfig.policy, ...policy } }, t.anchor, { log: (e) => said.push(`ha: ${e}`), ...options });
    t.lab.within(t.ns.anchor, () => ha!.start());
    const mn = new MobileNodeDaemon(t.mnConfig, t.mobile, { netns: t.ns.mn, log: (e) => said.push(`mn: ${e}`) });
    return { t, ha, mn, said, destroy: () => { mn.stop(); ha!.stop(); t.destroy(); } };
  } catch (err) {
    ha?.stop();
    t.destroy();
    throw err;
  }
}
