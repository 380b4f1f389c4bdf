import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = `${ROOT}src/cli/main.ts`;
const ENV = { ...process.env, PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ''}` };

/** Resident memory of a process in MiB, from /proc. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, all threads) that processes have used so far, in milliseconds. */
export function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone: counts nothing from now on
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** CPU time of whatever processes `pids()` names at the start and at the end of the window (ms). */
export function processCpuMeter(pids: () => number[]) {
  let before = new Map<number, number>();
  return {
    async start() {
      before = new Map(pids().map((p) => [p, cpuMs([p])]));
    },
    async stop() {
      return pids().reduce((sum, p) => sum + cpuMs([p]) - (before.get(p) ?? 0), 0);
    },
  };
}

/** The processes of a shared database server (e.g. 'postgres', 'redis-server'), by command name. */
export function pidsNamed(name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export interface ReceiverProc {
  child: ChildProcess;
  port: number;
  url(path: string): string;
  call<T>(msg: object, reply: string): Promise<T>;
  stats(ids?: boolean): Promise<{ total: number; unique: number; duplicates: number; ids?: string[] }>;
  close(): void;
}

export async function startReceiver(): Promise<ReceiverProc> {
  const child = fork(`${ROOT}bench/lib/receiver.ts`, [], { execPath: process.execPath, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  // Replies carry the id of their request: concurrent calls must not take each other's answers.
  let nextId = 1;
  const call = <T>(msg: object, reply: string) =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      const onMessage = (m: { type: string; id?: number }) => {
        if (m.type === reply && m.id === id) {
          child.off('message', onMessage);
          resolve(m as T);
        }
      };
      child.on('message', onMessage);
      child.send({ ...msg, id });
    });
  return {
    child,
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    call,
    stats: (ids = false) => call({ cmd: 'stats', ids }, 'stats'),
    close: () => child.kill('SIGKILL'),
  };
}

export interface ServerProc {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * With BENCH_PROFILE_DIR set, every `serve` process writes a V8 CPU profile there when it
 * stops (one file per thread: the SQLite store's thread has its own); open them in Chrome
 * DevTools, or summarise them with `node bench/profile.ts DIR`.
 */
const PROFILE_ARGS = [
  ...(process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []),
  // For `perf record -p PID`: JIT-compiled functions get names in /tmp/perf-PID.map.
  ...(process.env.BENCH_PERF_MAP ? ['--perf-basic-prof'] : []),
  // Any other node flags, e.g. --trace-gc (whose output goes to stdout: see BENCH_SERVER_STDOUT).
  ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
];
/** The serve processes' stdout (which they leave empty unless a node flag writes to it) goes to this file. */
const SERVER_STDOUT = process.env.BENCH_SERVER_STDOUT;

/** Starts `itwin-webhooks serve` and waits for its banner. */
export async function startServer(args: string[], env: Record<string, string> = {}): Promise<ServerProc> {
  const stdout = SERVER_STDOUT !== undefined ? openSync(SERVER_STDOUT, 'a') : 'ignore';
  const child = spawn(process.execPath, [...PROFILE_ARGS, CLI, 'serve', '--port', '0', '--log-level', 'warn', ...args], {
    env: { ...ENV, ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  if (typeof stdout === 'number') closeSync(stdout);
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${err}`)), 30_000);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /is listening on (http:\/\/\S+)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}:\n${err}`)));
  });
  return {
    child,
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
