import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../../src/config/settings.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = `${ROOT}src/cli/main.ts`;
export const CHILD_ENV = { ...process.env, PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ''}` };

export interface ChildServer {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>;
}

/** Starts `itwin-webhooks serve` as a child process and waits for its banner. */
export async function startServe(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<ChildServer> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { env: { ...CHILD_ENV, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in time:\n${err}`)), timeoutMs);
    proc.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const m = /is listening on (http:\/\/\S+)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening:\n${err}`));
    });
  });
  return { proc, url, stderr: () => err, exited };
}

/** The runner's environment without any setting of the program, so the host's cannot leak into a child. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...CHILD_ENV };
  for (const spec of Object.values(SETTINGS)) delete env[spec.env];
  delete env.NODE_TEST_CONTEXT;
  return { ...env, ...extra };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The environment `env` is laid over (default: the runner's, with node_modules/.bin on PATH). */
  base?: NodeJS.ProcessEnv;
  /** The child is killed and the run rejected after this long. */
  timeoutMs?: number;
  /** Holds the child while it runs, for an after-hook to kill what a failed test left. */
  track?: Set<ChildProcess>;
  /** The folder it runs in (default: the runner's). */
  cwd?: string;
}

/** Runs `itwin-webhooks <args>` to completion and returns its exit and output. */
export function runCli(args: string[], env: Record<string, string> = {}, options: CliOptions = {}): Promise<CliResult> {
  const { base = CHILD_ENV, timeoutMs = 60_000, track, cwd } = options;
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd });
  track?.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`itwin-webhooks ${args.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    // 'close' comes after 'exit' once stdout and stderr are read to their end.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      track?.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export async function tokenFor(url: string, clientId: string, clientSecret: string): Promise<string> {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
