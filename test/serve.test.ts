/**
 * The `serve` command as an operator runs it: a child process per test, its own temp data
 * directory, `--port 0` and the bound URL read from the banner.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { banner } from '../src/cli/serve.ts';
import { loadConfig } from '../src/config/load.ts';
import { cleanEnv, runCli, type CliResult } from './helpers/child.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(root, 'src', 'cli', 'main.ts');
const BANNER = /itwin-webhooks \S+ is listening on (http:\/\/\S+)/;
/** Generous: on a loaded machine seven CLI processes starting at once took over 15 s; a stuck one still fails. */
const START_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------- helpers

const dirs: string[] = [];
const children = new Set<ChildProcess>();

after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'itwh-serve-'));
  dirs.push(d);
  return d;
}

type Exit = CliResult;

function waitExit(child: ChildProcess, timeoutMs = EXIT_TIMEOUT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Runs the CLI to completion. */
const run = (args: string[], env: Record<string, string> = {}): Promise<Exit> =>
  runCli(args, env, { base: cleanEnv(), timeoutMs: START_TIMEOUT_MS, track: children });

interface Served {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `serve` and resolves once the banner names the bound URL. */
function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`no banner within ${START_TIMEOUT_MS} ms; stderr: ${stderr}`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code, sig) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`serve exited (${code ?? sig}) before listening; stderr: ${stderr}`));
    });
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
      const m = BANNER.exec(stderr);
      if (m !== null && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({
          child,
          url: m[1]!,
          stdout: () => stdout,
          stderr: () => stderr,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            const exit = await waitExit(child);
            await closed;
            children.delete(child);
            return exit;
          },
        });
      }
    });
  });
}

/** Asserts a failed start: non-zero exit, nothing on stdout, one line on stderr; returns that line. */
function assertOneLineFailure(r: Exit, what: string): string {
  assert.notEqual(r.code, 0, `${what}: exit status should be non-zero (stderr: ${r.stderr})`);
  assert.equal(r.signal, null, `${what}: should exit, not be killed`);
  const text = r.stderr.trimEnd();
  assert.ok(text.length > 0, `${what}: stderr should explain the failure`);
  assert.equal(text.split('\n').length, 1, `${what}: stderr should be one line, got:\n${r.stderr}`);
  assert.doesNotMatch(text, /^\s+at /m, `${what}: no stack trace`);
  return text;
}

const ACCOUNT = () => randomUUID();

async function createClient(dataDir: string, extra: string[] = []): Promise<{ clientId: string; clientSecret: string; accountId: string }> {
  const r = await run(['clients', 'create', '--name', 'serve-test', '--account', ACCOUNT(), '--json', '--data-dir', dataDir, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { clientId: string; clientSecret: string; accountId: string };
}

async function getToken(url: string, clientId: string, clientSecret: string): Promise<string> {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { access_token?: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(typeof body.access_token, 'string');
  return body.access_token!;
}

const CREATE_BODY = {
  scope: 'Account',
  callbackUrl: 'https://receiver.example.com/hook',
  eventTypes: ['iModels.iModelDeleted.v1'],
};

async function createWebhook(url: string, token: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...CREATE_BODY, ...extra }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 201, JSON.stringify(body));
  return body;
}

/** A port that was free a moment ago (nothing is fixed: the OS picks it). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Holds a port busy until released. */
async function occupyPort(): Promise<{ port: number; release(): Promise<void> }> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as { port: number }).port,
    release: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  };
}

// ---------------------------------------------------------------- settings

describe('serve: settings from flags and environment', () => {
  it('reads PORT from the environment', async () => {
    const port = await freePort();
    const s = await serve([], { PORT: String(port), DATA_DIR: tempDir() });
    try {
      assert.equal(new URL(s.url).port, String(port));
      assert.equal((await fetch(`${s.url}/webhooks`)).status, 401);
    } finally {
      await s.stop();
    }
  });

  it('--port wins over PORT', async () => {
    // PORT names a port that is busy: if the environment won, listening would fail.
    const busy = await occupyPort();
    try {
      const s = await serve(['--port', '0'], { PORT: String(busy.port), DATA_DIR: tempDir() });
      try {
        assert.notEqual(new URL(s.url).port, String(busy.port));
      } finally {
        await s.stop();
      }
    } finally {
      await busy.release();
    }
  });

  it('reads HOST from the environment and --host wins over it', { skip: process.platform !== 'linux' && 'needs 127.0.0.2 on loopback' }, async () => {
    const fromEnv = await serve([], { HOST: '127.0.0.2', PORT: '0', DATA_DIR: tempDir() });
    try {
      assert.equal(new URL(fromEnv.url).hostname, '127.0.0.2');
    } finally {
      await fromEnv.stop();
    }
    const fromFlag = await serve(['--host', '127.0.0.1'], { HOST: '127.0.0.2', PORT: '0', DATA_DIR: tempDir() });
    try {
      assert.equal(new URL(fromFlag.url).hostname, '127.0.0.1');
    } finally {
      await fromFlag.stop();
    }
  });

  it('reads DATA_DIR from the environment and --data-dir wins over it', async () => {
    const envDir = tempDir();
    const flagDir = tempDir();
    const a = await serve(['--port', '0'], { DATA_DIR: envDir });
    await a.stop();
    assert.ok(existsSync(join(envDir, 'itwin-webhooks.db')), 'DATA_DIR holds the database');

    const otherEnvDir = tempDir();
    const b = await serve(['--port', '0', '--data-dir', flagDir], { DATA_DIR: otherEnvDir });
    try {
      assert.match(b.stderr(), new RegExp(flagDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    } finally {
      await b.stop();
    }
    assert.ok(existsSync(join(flagDir, 'itwin-webhooks.db')), '--data-dir holds the database');
    assert.deepEqual(readdirSync(otherEnvDir), [], 'the overridden DATA_DIR is left alone');
  });

  it('rejects invalid values with a one-line message naming the setting', async () => {
    // `names`: what the line must contain (the variable; for a flag-only mistake, the flag).
    const cases: Array<{ args: string[]; env: Record<string, string>; names: string[] }> = [
      { args: [], env: { PORT: 'abc' }, names: ['PORT'] },
      { args: [], env: { PORT: '70000' }, names: ['PORT'] },
      // ROLE was dropped from the settings: then --role is an unknown option, and the line names it.
      { args: ['--port', '0', '--role', 'bogus'], env: {}, names: ['ROLE', '--role'] },
      { args: ['--port', '0'], env: { AUTH_JWKS_URL: 'not-a-url' }, names: ['AUTH_JWKS_URL'] },
      { args: ['--port', '0'], env: { LOG_LEVEL: 'loud' }, names: ['LOG_LEVEL'] },
      { args: ['--port', '0'], env: { BUILTIN_ISSUER: 'maybe' }, names: ['BUILTIN_ISSUER'] },
      { args: ['--port', '0', '--auth-jwks-url', 'https://issuer.example.com/jwks'], env: {}, names: ['AUTH_ISSUER'] },
    ];
    const results = await Promise.all(cases.map((c) => run(['serve', ...c.args], { DATA_DIR: tempDir(), ...c.env })));
    results.forEach((r, i) => {
      const c = cases[i]!;
      const what = `${JSON.stringify(c.env)} ${c.args.join(' ')}`;
      const line = assertOneLineFailure(r, what);
      assert.ok(c.names.some((n) => line.includes(n)), `${what}: "${line}" should name ${c.names.join(' or ')}`);
      assert.equal(r.stdout, '', `${what}: nothing on stdout`);
    });
  });

  it('a port already in use stops the program with a one-line message', async () => {
    const busy = await occupyPort();
    try {
      const r = await run(['serve', '--port', String(busy.port), '--data-dir', tempDir()]);
      const line = assertOneLineFailure(r, 'port in use');
      assert.ok(line.includes(String(busy.port)), `"${line}" should name the port`);
      assert.match(line, /is in use; pick another with --port or PORT \(0 picks a free one\)/);
    } finally {
      await busy.release();
    }
  });

  it('--role api or worker on the embedded store is refused at start (nothing would deliver, or nothing would take events)', async () => {
    const results = await Promise.all(['api', 'worker'].map((role) => run(['serve', '--port', '0', '--role', role], { DATA_DIR: tempDir() })));
    results.forEach((r, i) => {
      const line = assertOneLineFailure(r, `--role ${['api', 'worker'][i]}`);
      assert.match(line, /ROLE \(--role\): (api|worker) needs PostgreSQL \(DATABASE_URL\)/);
    });
  });

  it('a second server on the same DATA_DIR stops with a one-line message, and the first goes on', async () => {
    const dataDir = tempDir();
    const first = await serve(['--port', '0', '--data-dir', dataDir]);
    try {
      const r = await run(['serve', '--port', '0', '--data-dir', dataDir]);
      const line = assertOneLineFailure(r, 'DATA_DIR in use');
      assert.match(line, /Another itwin-webhooks server is using DATA_DIR/);
      assert.ok(line.includes(dataDir), `"${line}" should name the directory`);
      assert.equal((await fetch(`${first.url}/webhooks`)).status, 401, 'the first server still answers');
    } finally {
      await first.stop();
    }
  });
});

// ---------------------------------------------------------------- banner and signals

describe('serve: banner and shutdown', () => {
  it('prints the API base URL, the docs URL and how to get a token', async () => {
    const s = await serve(['--port', '0', '--data-dir', tempDir()]);
    try {
      const lines = s.stderr().split('\n');
      assert.ok(lines.some((l) => l.includes(`${s.url}/webhooks`)), `banner names ${s.url}/webhooks:\n${s.stderr()}`);
      assert.ok(lines.some((l) => l.includes(`${s.url}/docs`)), `banner names ${s.url}/docs`);
      const tokenLine = lines.find((l) => l.includes(`${s.url}/oauth/token`) && l.includes('client_credentials'));
      assert.ok(tokenLine !== undefined, `banner has a command to get a token:\n${s.stderr()}`);
      assert.ok(lines.some((l) => /clients create/.test(l)), 'banner says how to create a client');

      // The URLs it prints work.
      const docs = await fetch(`${s.url}/docs`);
      assert.equal(docs.status, 200);
      await docs.arrayBuffer();
      const api = await fetch(`${s.url}/webhooks`);
      assert.equal(api.status, 401);
      assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'HeaderNotFound');
    } finally {
      await s.stop();
    }
  });

  it('--host 0.0.0.0: the banner and the issuer name 127.0.0.1, and the banner says to set PUBLIC_URL', async () => {
    const s = await serve(['--port', '0', '--host', '0.0.0.0', '--data-dir', tempDir()]);
    try {
      assert.match(s.url, /^http:\/\/0\.0\.0\.0:\d+$/);
      const local = s.url.replace('0.0.0.0', '127.0.0.1');
      const text = s.stderr();
      assert.ok(!text.split('\n').slice(1).some((l) => l.includes('0.0.0.0')), `no link names 0.0.0.0:\n${text}`);
      assert.ok(text.includes(`${local}/webhooks`) && text.includes(`${local}/oauth/token`), text);
      assert.match(text, /set PUBLIC_URL \(--public-url\) to the address clients use/);
      const discovery = (await (await fetch(`${local}/.well-known/openid-configuration`)).json()) as { issuer: string };
      assert.match(discovery.issuer, /^http:\/\/127\.0\.0\.1:/);
    } finally {
      await s.stop();
    }
  });

  it('a worker\'s banner advertises no token URL (only the API processes serve it)', () => {
    const env = { DATABASE_URL: 'postgres://db.internal/hooks', ENCRYPTION_KEY: randomBytes(32).toString('hex') };
    const worker = banner(loadConfig({ role: 'worker', port: '9101' }, env), 'http://127.0.0.1:9101');
    assert.ok(!worker.includes('/oauth/token') && !worker.includes('/connect/token') && !worker.includes('/webhooks'), worker);
    assert.match(worker, /Issuer +built-in \(its token endpoint is served by the API processes, not this one\)/);
    assert.match(worker, /\/healthz/);
    const api = banner(loadConfig({ role: 'api', port: '3000' }, env), 'http://127.0.0.1:3000');
    assert.match(api, /token URL http:\/\/127\.0\.0\.1:3000\/oauth\/token \(also http:\/\/127\.0\.0\.1:3000\/connect\/token\)/);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`exits with status 0 on ${signal}`, async () => {
      const s = await serve(['--port', '0', '--data-dir', tempDir()]);
      // A keep-alive connection is open when the signal comes.
      const res = await fetch(`${s.url}/webhooks`);
      await res.arrayBuffer();
      const started = Date.now();
      const exit = await s.stop(signal);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(Date.now() - started < 5_000, `stopped in ${Date.now() - started} ms`);
    });
  }
});

// ---------------------------------------------------------------- persistence

describe('serve: data survives a restart', () => {
  it('keeps clients, signing keys and webhooks', async () => {
    const dataDir = tempDir();
    const first = await serve(['--port', '0', '--data-dir', dataDir]);
    let oldToken: string;
    let created: Record<string, unknown>;
    let client: { clientId: string; clientSecret: string };
    let jwks: unknown;
    try {
      client = await createClient(dataDir);
      oldToken = await getToken(first.url, client.clientId, client.clientSecret);
      created = await createWebhook(first.url, oldToken);
      jwks = await (await fetch(`${first.url}/.well-known/jwks.json`)).json();
    } finally {
      assert.deepEqual(await first.stop('SIGTERM'), { code: 0, signal: null });
    }

    // Same configuration as before (--port 0 again), as an operator's restart would be.
    const second = await serve(['--port', '0', '--data-dir', dataDir]);
    try {
      assert.deepEqual(await (await fetch(`${second.url}/.well-known/jwks.json`)).json(), jwks, 'same signing keys');
      const newToken = await getToken(second.url, client.clientId, client.clientSecret);
      const list = await fetch(`${second.url}/webhooks`, { headers: { authorization: `Bearer ${newToken}` } });
      assert.equal(list.status, 200);
      assert.deepEqual(((await list.json()) as { webhooks: Array<{ id: string }> }).webhooks.map((w) => w.id), [created.id]);
      const res = await fetch(`${second.url}/webhooks/${String(created.id)}`, { headers: { authorization: `Bearer ${oldToken}` } });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 200, `the token issued before the restart still verifies: ${JSON.stringify(body)}`);
      const { secret: _secret, ...expected } = created;
      assert.deepEqual(body, expected);
    } finally {
      assert.deepEqual(await second.stop('SIGTERM'), { code: 0, signal: null });
    }
  });
});

// ---------------------------------------------------------------- encryption key

describe('serve: encryption key', () => {
  it('generates DATA_DIR/encryption.key with mode 0600 and refuses a different ENCRYPTION_KEY', async () => {
    const dataDir = tempDir();
    const s = await serve(['--port', '0', '--data-dir', dataDir]);
    await s.stop();
    const keyFile = join(dataDir, 'encryption.key');
    assert.ok(existsSync(keyFile), 'encryption.key was created');
    if (process.platform !== 'win32') assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const fileKey = readFileSync(keyFile, 'utf8').trim();

    let otherKey = randomBytes(32).toString('hex');
    if (otherKey === fileKey) otherKey = randomBytes(32).toString('hex');
    const wrong = await run(['serve', '--port', '0', '--data-dir', dataDir], { ENCRYPTION_KEY: otherKey });
    const line = assertOneLineFailure(wrong, 'different ENCRYPTION_KEY');
    assert.match(line, /ENCRYPTION_KEY|encryption key/i);
    assert.ok(!line.includes(otherKey), 'the key itself is not echoed');

    // The refused attempt changed nothing: the generated key and the same key given explicitly both still work.
    const again = await serve(['--port', '0', '--data-dir', dataDir]);
    await again.stop();
    const explicit = await serve(['--port', '0', '--data-dir', dataDir], { ENCRYPTION_KEY: fileKey });
    await explicit.stop();
    assert.equal(readFileSync(keyFile, 'utf8').trim(), fileKey);
  });

  it('ENCRYPTION_KEY=short is refused naming ENCRYPTION_KEY', async () => {
    const r = await run(['serve', '--port', '0', '--data-dir', tempDir()], { ENCRYPTION_KEY: 'short' });
    const line = assertOneLineFailure(r, 'ENCRYPTION_KEY=short');
    assert.match(line, /ENCRYPTION_KEY/);
  });
});

// ---------------------------------------------------------------- corrupt data directory

describe('serve: corrupt data directory', () => {
  it('a database file of garbage bytes: clear error, file left untouched', async () => {
    const dataDir = tempDir();
    const db = join(dataDir, 'itwin-webhooks.db');
    const garbage = randomBytes(8192);
    writeFileSync(db, garbage);
    const r = await run(['serve', '--port', '0'], { DATA_DIR: dataDir });
    const line = assertOneLineFailure(r, 'garbage database');
    assert.ok(line.includes(db) || line.includes(dataDir) || line.includes('DATA_DIR'), `"${line}" should name the file`);
    assert.deepEqual(readFileSync(db), garbage, 'the broken database is not overwritten');
  });

  it('DATA_DIR pointing at a regular file', async () => {
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'hello\n');
    const r = await run(['serve', '--port', '0'], { DATA_DIR: file });
    const line = assertOneLineFailure(r, 'DATA_DIR is a file');
    assert.ok(line.includes(file) || line.includes('DATA_DIR'), `"${line}" should name the path or DATA_DIR`);
    assert.equal(readFileSync(file, 'utf8'), 'hello\n');
  });

  it('an encryption.key file with garbage in it', async () => {
    const dataDir = tempDir();
    const keyFile = join(dataDir, 'encryption.key');
    writeFileSync(keyFile, 'this is not a key\n', { mode: 0o600 });
    const r = await run(['serve', '--port', '0'], { DATA_DIR: dataDir });
    const line = assertOneLineFailure(r, 'garbage key file');
    assert.ok(line.includes(keyFile) || line.includes('ENCRYPTION_KEY'), `"${line}" should name the key file or ENCRYPTION_KEY`);
    assert.equal(readFileSync(keyFile, 'utf8'), 'this is not a key\n', 'the key file is not replaced');
  });
});

// ---------------------------------------------------------------- secrets and logs

describe('serve: secrets never reach the logs', () => {
  it('debug logs hold no client secret, token, webhook secret or encryption key', async () => {
    const dataDir = tempDir();
    const encryptionKey = randomBytes(32).toString('hex');
    const s = await serve(['--port', '0', '--data-dir', dataDir, '--log-requests'], { LOG_LEVEL: 'debug', ENCRYPTION_KEY: encryptionKey });
    const secrets: Record<string, string> = { encryptionKey };
    try {
      const client = await run(['clients', 'create', '--name', 'log-test', '--account', ACCOUNT(), '--json', '--data-dir', dataDir], {
        ENCRYPTION_KEY: encryptionKey,
      });
      assert.equal(client.code, 0, client.stderr);
      const { clientId, clientSecret } = JSON.parse(client.stdout) as { clientId: string; clientSecret: string };
      secrets.clientSecret = clientSecret;

      // Token with HTTP Basic, with the secret in the form body, and a refused attempt.
      const token = await getToken(s.url, clientId, clientSecret);
      secrets.accessToken = token;
      const post = await fetch(`${s.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
      });
      assert.equal(post.status, 200);
      secrets.accessToken2 = ((await post.json()) as { access_token: string }).access_token;
      const wrongSecret = `${clientSecret.slice(0, -4)}ABCD`;
      secrets.wrongClientSecret = wrongSecret;
      const refused = await fetch(`${s.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: wrongSecret }).toString(),
      });
      assert.equal(refused.status, 401);
      await refused.arrayBuffer();

      // Webhook with an explicit secret, then a new secret by PATCH.
      const webhookSecret = `create-${randomBytes(24).toString('hex')}`;
      secrets.webhookSecret = webhookSecret;
      const created = await createWebhook(s.url, token, { secret: webhookSecret });
      assert.equal(created.secret, webhookSecret);
      const newSecret = `patch-${randomBytes(24).toString('hex')}`;
      secrets.patchedSecret = newSecret;
      const patched = await fetch(`${s.url}/webhooks/${String(created.id)}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ secret: newSecret }),
      });
      const patchedBody = (await patched.json()) as Record<string, unknown>;
      assert.equal(patched.status, 200, JSON.stringify(patchedBody));
      assert.equal(patchedBody.secret, newSecret);

      // A generated secret, and a request the validator refuses while it carries a secret.
      const generated = await createWebhook(s.url, token);
      secrets.generatedSecret = String(generated.secret);
      const invalidSecret = `invalid ${randomBytes(24).toString('hex')}`;
      secrets.invalidSecret = invalidSecret;
      const bad = await fetch(`${s.url}/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...CREATE_BODY, secret: invalidSecret }),
      });
      assert.equal(bad.status, 422);
      await bad.arrayBuffer();

      // A tampered token is refused; neither it nor its valid signature part is logged.
      const [h, p, sig] = token.split('.');
      const tampered = `${h}.${p}.${sig!.slice(0, -6)}AAAAAA`;
      secrets.tamperedToken = tampered;
      const rejected = await fetch(`${s.url}/webhooks`, { headers: { authorization: `Bearer ${tampered}` } });
      assert.equal(rejected.status, 401);
      await rejected.arrayBuffer();
      secrets.tokenSignature = sig!;

      const list = await fetch(`${s.url}/webhooks`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(list.status, 200);
      await list.arrayBuffer();
    } finally {
      assert.deepEqual(await s.stop(), { code: 0, signal: null });
    }
    const output = `${s.stdout()}\n${s.stderr()}`;
    assert.ok(s.stdout().includes('"level":20') || s.stdout().includes('"level":30'), 'the server did log (debug level)');
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(!output.includes(value), `${name} appears in the server output`);
    }
  });
});
