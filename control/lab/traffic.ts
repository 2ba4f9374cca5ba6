/**
 * Real traffic between lab hosts: the kernel's ping, and TCP between two
 * Node processes (an echo server and a client that checks every byte came
 * back), each started inside its namespace.
 */
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface PingResult { sent: number; received: number }

/** Pings dest from namespace ns, every intervalS seconds; resolves with what came back (never throws on loss). */
export async function ping(ns: string, dest: string, count = 3, intervalS = 0.2): Promise<PingResult> {
  const deadline = Math.ceil(count * intervalS) + 5; // ping then waits for every reply, not just 2 RTTs after its last request
  const out = await run('ip', ['netns', 'exec', ns, 'ping', '-n', '-q', '-c', String(count), '-i', String(intervalS), '-W', '1', '-w', String(deadline), dest]);
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  return { sent: Number(m?.[1] ?? count), received: Number(m?.[2] ?? 0) };
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
}

const ECHO_SERVER = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const server = net.createServer((s) => s.pipe(s));
server.listen(Number(port), host, () => console.log('listening'));
`;

const ECHO_CLIENT = `
const net = require('node:net');
const crypto = require('node:crypto');
const [host, port, size] = process.argv.slice(1);
const data = crypto.randomBytes(Number(size));
const chunks = [];
let got = 0;
const s = net.connect({ host, port: Number(port) }, () => s.end(data));
s.on('data', (c) => { chunks.push(c); got += c.length; });
s.on('end', () => {
  const ok = Buffer.concat(chunks).equals(data);
  console.log(JSON.stringify({ ok, sent: data.length, received: got }));
});
s.on('error', (e) => { console.log(JSON.stringify({ ok: false, sent: data.length, received: got, error: e.message })); });
`;

export interface TcpResult { ok: boolean; sent: number; received: number; error?: string }

/**
 * Sends size random bytes over TCP from namespace clientNs to an echo server
 * listening on serverAddr in serverNs, and checks they all come back intact.
 */
export async function tcpEcho(serverNs: string, serverAddr: string, clientNs: string, size = 256 * 1024, port = 7777): Promise<TcpResult> {
  const server = spawn('ip', ['netns', 'exec', serverNs, process.execPath, '-e', ECHO_SERVER, serverAddr, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const lines = createInterface({ input: server.stdout! });
    const [first] = (await Promise.race([once(lines, 'line'), once(server, 'exit').then(() => ['exited'])])) as string[];
    if (first !== 'listening') return { ok: false, sent: size, received: 0, error: `echo server: ${first}` };
    const out = await run('ip', ['netns', 'exec', clientNs, process.execPath, '-e', ECHO_CLIENT, serverAddr, String(port), String(size)], 20_000);
    try {
      return JSON.parse(out.trim().split('\n').pop() ?? '') as TcpResult;
    } catch {
      return { ok: false, sent: size, received: 0, error: `client: ${out.trim() || 'timed out'}` };
    }
  } finally {
    server.kill();
  }
}

const SESSION_CLIENT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
let sent = 0, echoed = 0, pending = '', error, longestGapMs = 0, lastEcho = Date.now(), mismatch = false;
const s = net.connect({ host, port: Number(port) });
s.setEncoding('utf8');
const tick = setInterval(() => { if (s.writable) s.write(String(++sent).padStart(16, '0') + '\\n'); }, 50);
s.on('data', (d) => {
  pending += d;
  let nl;
  while ((nl = pending.indexOf('\\n')) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (Number(line) !== echoed + 1) mismatch = true;
    echoed++;
    const now = Date.now();
    longestGapMs = Math.max(longestGapMs, now - lastEcho);
    lastEcho = now;
  }
});
s.on('error', (e) => { error = e.message; });
s.on('close', () => { error = error || 'connection closed'; });
process.stdin.on('data', () => {});
process.stdin.on('end', () => {
  clearInterval(tick);
  const deadline = Date.now() + 10000; // let the last lines come back (retransmissions after a move included)
  const done = () => {
    if (echoed < sent && Date.now() < deadline && !error) return setTimeout(done, 20);
    console.log(JSON.stringify({ ok: !error && !mismatch && echoed === sent, sent, echoed, longestGapMs, ...(error && { error }) }));
    process.exit(0);
  };
  done();
});
`;

export interface SessionResult { ok: boolean; sent: number; echoed: number; longestGapMs: number; error?: string }

/** A TCP session held open from clientNs to an echo server on serverAddr, a numbered line every 50 ms, each checked as it comes back. */
export interface TcpSession {
  /** Stops sending, waits for the last echoes, and reports: ok only if one connection carried every line back, in order. */
  stop(): Promise<SessionResult>;
}

export async function openTcpSession(serverNs: string, serverAddr: string, clientNs: string, port: number): Promise<TcpSession> {
  const server = spawn('ip', ['netns', 'exec', serverNs, process.execPath, '-e', ECHO_SERVER, serverAddr, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: server.stdout! });
  const [first] = (await Promise.race([once(lines, 'line'), once(server, 'exit').then(() => ['exited'])])) as string[];
  if (first !== 'listening') {
    server.kill();
    throw new Error(`echo server on ${serverAddr}: ${first}`);
  }
  const client = spawn('ip', ['netns', 'exec', clientNs, process.execPath, '-e', SESSION_CLIENT, serverAddr, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const output = createInterface({ input: client.stdout! });
  const result = once(output, 'line').then(([line]) => JSON.parse(line as string) as SessionResult);
  return {
    async stop() {
      client.stdin!.end();
      try {
        return await Promise.race([result, new Promise<SessionResult>((resolve) => setTimeout(() => resolve({ ok: false, sent: 0, echoed: 0, longestGapMs: 0, error: 'client did not report' }), 10_000))]);
      } finally {
        client.kill();
        server.kill();
      }
    },
  };
}
