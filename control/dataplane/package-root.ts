/** The package root, from control/dataplane (sources) or dist/control/dataplane (built): where build/ is. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const packageRoot = resolve(here, here.includes(`${'/dist/'}`) ? '../../..' : '../..');
