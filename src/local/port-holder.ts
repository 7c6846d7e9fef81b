/**
 * Who holds a TCP port, said in words for a port-in-use message. Found through
 * /proc on Linux (the listening socket's inode, then the process with that
 * socket open); elsewhere, or for another user's process, nothing is said.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { runningStack } from './local-stack.js';

const LISTEN = '0A';

/** Inodes of the sockets listening on `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (!local || fields[3] !== LISTEN) continue;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && fields[9] && fields[9] !== '0') inodes.add(fields[9]);
    }
  }
  return inodes;
}

const pids = () => readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);

function holderPid(inodes: Set<string>): number | undefined {
  const wanted = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  for (const pid of pids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        if (wanted.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return pid;
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return undefined;
}

const commandOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
const parentOf = (pid: number) => Number(/\)\s+\S+\s+(\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? 0);

/** The `npm start` (scripts/start-local.ts) that `pid` is, or runs under (serverless-offline is its child). */
function startProcessOf(pid: number): number | undefined {
  for (let p = pid, depth = 0; p > 1 && depth < 4; p = parentOf(p), depth++) {
    if (/scripts\/start-local/.test(commandOf(p))) return p;
  }
  return undefined;
}

/** The state directory of another `npm start`: its LOCAL_STATE_DIR, from its working directory. */
function stateDirOf(pid: number): string | undefined {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const dir = env.find((v) => v.startsWith('LOCAL_STATE_DIR='))?.slice('LOCAL_STATE_DIR='.length) || '.local';
    return resolve(readlinkSync(`/proc/${pid}/cwd`), dir);
  } catch {
    return undefined;
  }
}

/**
 * Who listens on `port`: "this npm start itself", "another factory-ca npm start
 * (pid …, state directory …, serving …)" or "pid … (command)". Undefined when
 * it cannot be found.
 */
export function describePortHolder(port: number): string | undefined {
  try {
    const inodes = listeningInodes(port);
    if (inodes.size === 0) return undefined;
    const pid = holderPid(inodes);
    if (pid === undefined) return undefined;
    if (pid === process.pid) return 'this npm start itself: PORT, DYNAMODB_PORT, LAMBDA_PORT and OFFLINE_PORT must all differ';
    const start = startProcessOf(pid);
    if (start !== undefined) {
      const stateDir = stateDirOf(start);
      const url = stateDir ? runningStack(stateDir)?.url : undefined;
      return `another factory-ca npm start (pid ${start}${stateDir ? `, state directory ${stateDir}` : ''}${url ? `, serving ${url}` : ''})`;
    }
    const command = commandOf(pid);
    return `pid ${pid} (${command.length > 120 ? `${command.slice(0, 117)}...` : command})`;
  } catch {
    return undefined;
  }
}
