/**
 * Reading a daemon's configuration file at start: a file that cannot be
 * read, is not JSON, or does not check out ends the process with status 2
 * and every problem on stderr, each naming its key, rather than a stack trace.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './checker.js';

export function loadConfig<T>(program: string, path: string, parse: (json: unknown) => T): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return fail(program, `cannot read ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(program, `${path} is not JSON: ${(err as Error).message}`);
  }
  try {
    return parse(json);
  } catch (err) {
    if (err instanceof ConfigError) return fail(program, `${path}: ${err.message}`);
    throw err;
  }
}

function fail(program: string, message: string): never {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(2);
}
