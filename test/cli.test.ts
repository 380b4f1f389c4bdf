/**
 * The administration CLI as a user runs it: `node src/cli/main.ts ...` in child processes,
 * each test with its own temp data directory.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, runCli, type CliResult } from './helpers/child.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(root, 'src', 'cli', 'main.ts');
const BANNER = /itwin-webhooks \S+ is listening on (http:\/\/\S+)/;
const TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------- helpers

const dirs: string[] = [];
const children = new Set<ChildProcess>();

after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const compileCache = mkdtempSync(join(tmpdir(), 'itwh-cli-cache-'));
dirs.push(compileCache);

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'itwh-cli-'));
  dirs.push(d);
  return d;
}

/** The runner's environment without any of the program's settings, so the host cannot leak in. */
// V8's code cache only: spares re-compiling the same modules in every child.
const childEnv = () => cleanEnv({ NODE_COMPILE_CACHE: compileCache });

/**
 * Runs the tasks one after the other. Commands that open the same data directory are not
 * run at once here (see the dedicated concurrency test for that).
 */
async function inOrder<T extends Array<() => Promise<unknown>>>(tasks: [...T]): Promise<{ [K in keyof T]: T[K] extends () => Promise<infer R> ? R : never }> {
  const out: unknown[] = [];
  for (const task of tasks) out.push(await task());
  return out as { [K in keyof T]: T[K] extends () => Promise<infer R> ? R : never };
}

type Result = CliResult;

/** Runs `itwin-webhooks <args>` to completion. */
const cli = (args: string[], env: Record<string, string> = {}): Promise<Result> => runCli(args, env, { base: childEnv(), timeoutMs: TIMEOUT_MS, track: children });

/** Runs a command that must succeed; returns stdout. */
async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await cli(args, env);
  assert.equal(r.code, 0, `itwin-webhooks ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Asserts a refused command: non-zero exit, nothing on stdout, exactly one line on stderr. */
function assertRefused(r: Result, what: string): string {
  assert.notEqual(r.code, 0, `${what}: exit status should be non-zero`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  const text = r.stderr.trimEnd();
  assert.ok(text.length > 0, `${what}: stderr should explain`);
  assert.equal(text.split('\n').length, 1, `${what}: stderr should be one line, got:\n${r.stderr}`);
  return text;
}

interface Created {
  clientId: string;
  clientSecret: string;
  accountId: string;
}

async function createClient(dataDir: string, extra: string[] = [], accountId = randomUUID()): Promise<Created> {
  const out = await ok(['clients', 'create', '--name', 'cli-test', '--account', accountId, '--json', '--data-dir', dataDir, ...extra]);
  return JSON.parse(out) as Created;
}

async function listJson<T = Record<string, unknown>>(args: string[], dataDir: string): Promise<T[]> {
  return JSON.parse(await ok([...args, '--json', '--data-dir', dataDir])) as T[];
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function tokenRequest(url: string, id: string, secret: string): Promise<Response> {
  return fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
}

// ---------------------------------------------------------------- clients

describe('clients', () => {
  it('a --data-dir that does not exist is refused unless --create; a store that had to be created is announced', async () => {
    const missing = join(tempDir(), 'typo');
    const refused = await cli(['clients', 'create', '--name', 'x', '--account', randomUUID(), '--data-dir', missing]);
    const line = assertRefused(refused, 'a missing --data-dir');
    assert.ok(line.includes(missing) && line.includes('--create'), line);
    assert.ok(!existsSync(missing), 'nothing was created');
    const created = await cli(['clients', 'create', '--name', 'x', '--account', randomUUID(), '--data-dir', missing, '--create', '--json']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stderr, `itwin-webhooks: note: created a new, empty data store in ${missing}.\n`);
    const again = await cli(['clients', 'list', '--data-dir', missing]);
    assert.equal(again.stderr, '', 'an existing store is not announced');
  });

  it('run from a subfolder without --data-dir, a command is refused naming the folder ./data resolved to, and creates nothing', async () => {
    const project = tempDir();
    await createClient(join(project, 'data'), ['--create']);
    const sub = join(project, 'src');
    mkdirSync(sub);
    const refused = await runCli(['clients', 'list'], {}, { base: childEnv(), timeoutMs: TIMEOUT_MS, track: children, cwd: sub });
    const line = assertRefused(refused, 'the default ./data from a subfolder');
    assert.ok(line.includes(`./data (${join(sub, 'data')})`) && line.includes('--data-dir') && line.includes('--create'), line);
    assert.ok(!existsSync(join(sub, 'data')), 'nothing was created in the subfolder');
    const fromProject = await runCli(['clients', 'list', '--json'], {}, { base: childEnv(), timeoutMs: TIMEOUT_MS, track: children, cwd: project });
    assert.equal(fromProject.code, 0, fromProject.stderr);
    assert.equal((JSON.parse(fromProject.stdout) as unknown[]).length, 1, 'from the project folder, ./data is the store');
  });

  it('create (--json and readable), --scopes, and list (table and --json)', async () => {
    const dataDir = tempDir();
    assert.match(await ok(['clients', 'list', '--data-dir', dataDir]), /none/i, 'an empty list says so');

    const accountA = randomUUID();
    const accountB = randomUUID();
    const [jsonRun, textRun] = await inOrder([
      () => cli(['clients', 'create', '--name', 'json-app', '--account', accountA, '--json', '--data-dir', dataDir]),
      () => cli(['clients', 'create', '--name', 'text-app', '--account', accountB, '--scopes', 'webhooks:read webhooks:publish', '--data-dir', dataDir]),
    ]);

    // --json: exactly one line, exactly these keys.
    assert.equal(jsonRun.code, 0, jsonRun.stderr);
    assert.equal(jsonRun.stderr, '');
    const lines = jsonRun.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line, got:\n${jsonRun.stdout}`);
    const a = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), ['accountId', 'clientId', 'clientSecret']);
    assert.equal(a.accountId, accountA);
    assert.equal(typeof a.clientId, 'string');
    assert.equal(typeof a.clientSecret, 'string');
    assert.ok((a.clientSecret as string).length >= 32, 'a secret of real strength');
    assert.notEqual(a.clientId, a.clientSecret);

    const [table, raw] = await inOrder([() => ok(['clients', 'list', '--data-dir', dataDir]), () => ok(['clients', 'list', '--json', '--data-dir', dataDir])]);
    assert.equal(raw.trimEnd().split('\n').length, 1);
    const list = JSON.parse(raw) as Array<Record<string, unknown> & { clientId: string; name: string; accountId: string; scopes: string[] }>;
    assert.equal(list.length, 2);
    const listedA = list.find((c) => c.name === 'json-app');
    const listedB = list.find((c) => c.name === 'text-app');
    assert.ok(listedA !== undefined && listedB !== undefined, raw);
    assert.equal(listedA.clientId, a.clientId);
    assert.equal(listedA.accountId, accountA);
    assert.deepEqual([...listedA.scopes].sort(), ['itwin-platform', 'webhooks:modify', 'webhooks:read'], 'default scopes');
    assert.equal(listedB.accountId, accountB);
    assert.deepEqual([...listedB.scopes].sort(), ['webhooks:publish', 'webhooks:read'], '--scopes is honoured');

    // Without --json: the id and the secret, readably (not JSON).
    assert.equal(textRun.code, 0, textRun.stderr);
    assert.throws(() => JSON.parse(textRun.stdout), 'not JSON');
    assert.ok(textRun.stdout.includes(listedB.clientId), `stdout names the client id:\n${textRun.stdout}`);
    const secretMatch = /secret\W+([A-Za-z0-9_\-.~+/=]{32,})/i.exec(textRun.stdout);
    assert.ok(secretMatch !== null, `stdout shows the secret on a labelled line:\n${textRun.stdout}`);
    const secretB = secretMatch[1]!;
    assert.notEqual(secretB, listedB.clientId);

    // The table: a header and one row per client.
    const rows = table.trimEnd().split('\n');
    assert.equal(rows.length, 3, `header and two rows:\n${table}`);
    assert.match(rows[0]!, /CLIENT ID/i);
    for (const c of [listedA, listedB]) {
      const row = rows.find((l) => l.includes(c.clientId));
      assert.ok(row !== undefined, `a row for ${c.clientId}`);
      assert.ok(row.includes(c.accountId) && row.includes(c.name));
    }

    // Neither listing carries a secret or its hash.
    for (const c of list) assert.deepEqual(Object.keys(c).filter((k) => /secret|hash/i.test(k)), [], 'no secret or hash property');
    for (const text of [raw, table]) {
      assert.ok(!text.includes(a.clientSecret as string) && !text.includes(secretB), 'no secret in list output');
      assert.doesNotMatch(text, /\$(argon2|scrypt|2[aby])\$|scrypt:|pbkdf2/i, 'no password hash in list output');
    }
  });

  it('refuses an unknown scope, a non-UUID account and a missing --name, creating nothing', async () => {
    const dataDir = tempDir();
    const account = randomUUID();
    // At most one command of a parallel group opens the store (the others fail before it).
    const [scope, badAccount, noName] = await Promise.all([
      cli(['clients', 'create', '--name', 'x', '--account', account, '--scopes', 'webhooks:read webhooks:everything', '--data-dir', dataDir]),
      cli(['clients', 'create', '--name', 'x', '--account', 'not-a-uuid', '--data-dir', dataDir]),
      cli(['clients', 'create', '--account', account, '--data-dir', dataDir]),
    ]);
    assert.match(assertRefused(scope, 'unknown scope'), /webhooks:everything/);
    assert.match(assertRefused(badAccount, 'non-UUID account'), /not-a-uuid|--account|UUID/i);
    assert.match(assertRefused(noName, 'missing --name'), /--name/);
    assert.deepEqual(await listJson(['clients', 'list'], dataDir), []);
  });

  it('delete removes the client; deleting again fails', async () => {
    const dataDir = tempDir();
    const [keep, gone] = await inOrder([() => createClient(dataDir), () => createClient(dataDir)]);
    const out = await ok(['clients', 'delete', gone.clientId, '--data-dir', dataDir]);
    assert.ok(out.includes(gone.clientId));
    const [list, again] = await inOrder([
      () => listJson<{ clientId: string }>(['clients', 'list'], dataDir),
      () => cli(['clients', 'delete', gone.clientId, '--data-dir', dataDir]),
    ]);
    assert.deepEqual(list.map((c) => c.clientId), [keep.clientId]);
    const line = assertRefused(again, 'delete again');
    assert.ok(line.includes(gone.clientId), `"${line}" names the client`);
  });
});

// ---------------------------------------------------------------- directory

describe('directory', () => {
  it('itwin add / list / remove', async () => {
    const dataDir = tempDir();
    const accountA = randomUUID();
    const accountB = randomUUID();
    const itwin1 = randomUUID();
    const itwin2 = randomUUID();
    await inOrder([
      () => ok(['directory', 'itwin', 'add', itwin1, '--account', accountA, '--data-dir', dataDir]),
      () => ok(['directory', 'itwin', 'add', itwin2, '--account', accountB, '--data-dir', dataDir]),
    ]);

    type Row = { itwinId: string; accountId: string };
    const [rows, onlyA, table] = await inOrder([
      () => listJson<Row>(['directory', 'itwin', 'list'], dataDir),
      () => listJson<Row>(['directory', 'itwin', 'list', '--account', accountA], dataDir),
      () => ok(['directory', 'itwin', 'list', '--data-dir', dataDir]),
    ]);
    assert.deepEqual(rows.map((r) => [r.itwinId, r.accountId]).sort(), [[itwin1, accountA], [itwin2, accountB]].sort());
    assert.deepEqual(onlyA.map((r) => r.itwinId), [itwin1]);
    assert.equal(table.trimEnd().split('\n').length, 3, `header and two rows:\n${table}`);
    assert.ok(table.includes(itwin1) && table.includes(itwin2) && table.includes(accountA));

    // Adding again moves the iTwin to the new account; remove takes it out.
    await inOrder([
      () => ok(['directory', 'itwin', 'add', itwin2, '--account', accountA, '--data-dir', dataDir]),
      () => ok(['directory', 'itwin', 'remove', itwin1, '--data-dir', dataDir]),
    ]);

    const errors = await Promise.all([
      cli(['directory', 'itwin', 'remove', itwin1, '--data-dir', dataDir]),
      cli(['directory', 'itwin', 'add', 'not-a-uuid', '--account', accountA, '--data-dir', dataDir]),
      cli(['directory', 'itwin', 'add', randomUUID(), '--account', 'nope', '--data-dir', dataDir]),
      cli(['directory', 'itwin', 'list', '--account', 'nope', '--data-dir', dataDir]),
    ]);
    assert.ok(assertRefused(errors[0]!, 'remove an unknown iTwin').includes(itwin1));
    assert.match(assertRefused(errors[1]!, 'add a bad iTwin id'), /not-a-uuid/);
    assert.match(assertRefused(errors[2]!, 'add with a bad account'), /nope|--account/);
    assert.match(assertRefused(errors[3]!, 'list with a bad account'), /nope|--account/);

    const final = await listJson<Row>(['directory', 'itwin', 'list'], dataDir);
    assert.deepEqual(final.map((r) => [r.itwinId, r.accountId]), [[itwin2, accountA]], 'moved, removed, and nothing else changed');
  });

  it('grant / grants / revoke', async () => {
    const dataDir = tempDir();
    const account = randomUUID();
    const itwin1 = randomUUID();
    const itwin2 = randomUUID();
    // The other application's tokens may come from anywhere: grants name an id, not a local client.
    const other = 'external-app-1';
    const [{ clientId }] = await inOrder([
      () => createClient(dataDir, [], account),
      () => ok(['directory', 'itwin', 'add', itwin1, '--account', account, '--data-dir', dataDir]),
      () => ok(['directory', 'itwin', 'add', itwin2, '--account', account, '--data-dir', dataDir]),
    ]);
    await inOrder([
      () => ok(['directory', 'grant', clientId, '--itwin', itwin1, '--data-dir', dataDir]),
      () => ok(['directory', 'grant', clientId, '--itwin', itwin2, '--permission', 'webhooks_maintainer', '--data-dir', dataDir]),
      () => ok(['directory', 'grant', other, '--itwin', itwin1, '--data-dir', dataDir]),
    ]);

    type Grant = { clientId: string; itwinId: string; permission: string };
    const key = (g: Grant) => `${g.clientId} ${g.itwinId} ${g.permission}`;
    const [all, byClient, byItwin, table] = await inOrder([
      () => listJson<Grant>(['directory', 'grants'], dataDir),
      () => listJson<Grant>(['directory', 'grants', '--client', other], dataDir),
      () => listJson<Grant>(['directory', 'grants', '--itwin', itwin2], dataDir),
      () => ok(['directory', 'grants', '--data-dir', dataDir]),
    ]);
    assert.deepEqual(
      all.map(key).sort(),
      [`${clientId} ${itwin1} webhooks_maintainer`, `${clientId} ${itwin2} webhooks_maintainer`, `${other} ${itwin1} webhooks_maintainer`].sort(),
    );
    assert.deepEqual(byClient.map(key), [`${other} ${itwin1} webhooks_maintainer`]);
    assert.deepEqual(byItwin.map(key), [`${clientId} ${itwin2} webhooks_maintainer`]);
    assert.equal(table.trimEnd().split('\n').length, 4, `header and three rows:\n${table}`);

    await ok(['directory', 'revoke', clientId, '--itwin', itwin2, '--data-dir', dataDir]);

    const unknownItwin = randomUUID();
    const errors = [
      ...(await Promise.all([
        cli(['directory', 'grant', clientId, '--itwin', unknownItwin, '--data-dir', dataDir]),
        cli(['directory', 'grant', clientId, '--itwin', 'not-a-uuid', '--data-dir', dataDir]),
        cli(['directory', 'grant', clientId, '--itwin', itwin1, '--permission', 'webhooks_owner', '--data-dir', dataDir]),
      ])),
      await cli(['directory', 'revoke', clientId, '--itwin', itwin2, '--data-dir', dataDir]),
    ];
    assert.ok(assertRefused(errors[0]!, 'grant on an unknown iTwin').includes(unknownItwin));
    assert.match(assertRefused(errors[1]!, 'grant with a bad iTwin id'), /not-a-uuid/);
    assert.match(assertRefused(errors[2]!, 'grant an unknown permission'), /permission/);
    assert.ok(assertRefused(errors[3]!, 'revoke what was not granted').includes(itwin2));

    assert.deepEqual(
      (await listJson<Grant>(['directory', 'grants'], dataDir)).map(key).sort(),
      [`${clientId} ${itwin1} webhooks_maintainer`, `${other} ${itwin1} webhooks_maintainer`].sort(),
      'revoked, and the refused commands changed nothing',
    );

    // Removing an iTwin takes the permissions granted on it away.
    await ok(['directory', 'itwin', 'remove', itwin1, '--data-dir', dataDir]);
    assert.deepEqual(await listJson(['directory', 'grants'], dataDir), []);
  });

  it('a grant or role for an application the built-in issuer does not know is made, with a one-line warning', async () => {
    const dataDir = tempDir();
    const account = randomUUID();
    const itwin = randomUUID();
    const [{ clientId }] = await inOrder([() => createClient(dataDir, [], account), () => ok(['directory', 'itwin', 'add', itwin, '--account', account, '--data-dir', dataDir])]);
    const typo = `${clientId}x`;
    const [known, unknown, knownAdmin, unknownAdmin] = await inOrder([
      () => cli(['directory', 'grant', clientId, '--itwin', itwin, '--data-dir', dataDir]),
      () => cli(['directory', 'grant', typo, '--itwin', itwin, '--data-dir', dataDir]),
      () => cli(['directory', 'org-admin', clientId, '--account', account, '--data-dir', dataDir]),
      () => cli(['directory', 'org-admin', typo, '--account', account, '--data-dir', dataDir]),
    ]);
    for (const [r, what] of [[known, 'grant'], [knownAdmin, 'org-admin']] as const) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', `${what} of a registered application: no warning`);
    }
    for (const [r, what] of [[unknown, 'the grant'], [unknownAdmin, 'the role']] as const) {
      assert.equal(r.code, 0, `${what} is made (an external issuer's applications are not registered here): ${r.stderr}`);
      assert.ok(r.stdout.includes(typo), r.stdout);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(lines[0]!.startsWith(`itwin-webhooks: warning: no application ${typo} is registered`) && lines[0]!.includes('clients list') && lines[0]!.includes(what), lines[0]);
    }
    type Grant = { clientId: string; itwinId: string };
    assert.deepEqual((await listJson<Grant>(['directory', 'grants', '--itwin', itwin], dataDir)).map((g) => g.clientId).sort(), [clientId, typo].sort());
  });

  it('org-admin, org-admin --remove and org-admins', async () => {
    const dataDir = tempDir();
    const accountA = randomUUID();
    const accountB = randomUUID();
    const { clientId } = await createClient(dataDir, [], accountA);
    await inOrder([
      () => ok(['directory', 'org-admin', clientId, '--account', accountA, '--data-dir', dataDir]),
      () => ok(['directory', 'org-admin', clientId, '--account', accountB, '--data-dir', dataDir]),
    ]);

    type Admin = { clientId: string; accountId: string };
    const key = (a: Admin) => `${a.clientId} ${a.accountId}`;
    const [admins, ofB, table] = await inOrder([
      () => listJson<Admin>(['directory', 'org-admins'], dataDir),
      () => listJson<Admin>(['directory', 'org-admins', '--account', accountB], dataDir),
      () => ok(['directory', 'org-admins', '--data-dir', dataDir]),
    ]);
    assert.deepEqual(admins.map(key).sort(), [`${clientId} ${accountA}`, `${clientId} ${accountB}`].sort());
    assert.deepEqual(ofB.map(key), [`${clientId} ${accountB}`]);
    assert.equal(table.trimEnd().split('\n').length, 3, `header and two rows:\n${table}`);
    assert.ok(table.includes(clientId) && table.includes(accountA));

    await ok(['directory', 'org-admin', clientId, '--account', accountA, '--remove', '--data-dir', dataDir]);

    const errors = await Promise.all([
      cli(['directory', 'org-admin', clientId, '--account', accountA, '--remove', '--data-dir', dataDir]),
      cli(['directory', 'org-admin', clientId, '--account', 'not-a-uuid', '--data-dir', dataDir]),
      cli(['directory', 'org-admins', '--account', 'not-a-uuid', '--data-dir', dataDir]),
    ]);
    assert.ok(assertRefused(errors[0]!, 'remove a role that is not held').includes(accountA));
    assert.match(assertRefused(errors[1]!, 'org-admin with a bad account'), /not-a-uuid/);
    assert.match(assertRefused(errors[2]!, 'org-admins with a bad account'), /not-a-uuid/);

    assert.deepEqual(
      (await listJson<Admin>(['directory', 'org-admins'], dataDir)).map(key),
      [`${clientId} ${accountB}`],
      'removed, and the refused commands changed nothing',
    );
  });
});

describe('a data directory another process is using', () => {
  it('a command waits for a briefly held database lock instead of failing', async () => {
    // Another process (the server at start-up, a second administration command, a closing
    // writer's checkpoint) may hold the database for a moment. A command must wait for it
    // (SQLite's busy timeout), not fail with "database is locked" as soon as it opens.
    const dataDir = tempDir();
    await ok(['directory', 'itwin', 'list', '--data-dir', dataDir]);
    const { DatabaseSync } = await import('node:sqlite');
    const holder = new DatabaseSync(join(dataDir, 'itwin-webhooks.db'));
    let released = false;
    try {
      holder.exec('PRAGMA locking_mode = EXCLUSIVE');
      holder.exec('BEGIN EXCLUSIVE');
      holder.exec('COMMIT'); // in exclusive locking mode the lock stays until the connection closes
      const itwin = randomUUID();
      const pending = cli(['directory', 'itwin', 'add', itwin, '--account', randomUUID(), '--data-dir', dataDir]);
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // well within the 5 s a waiting command allows
      holder.close();
      released = true;
      const r = await pending;
      assert.equal(r.code, 0, `the command should wait for the lock: ${r.stderr.trim()}`);
      const rows = await listJson<{ itwinId: string }>(['directory', 'itwin', 'list'], dataDir);
      assert.deepEqual(rows.map((row) => row.itwinId), [itwin]);
    } finally {
      if (!released) holder.close();
    }
  });
});

// ---------------------------------------------------------------- help and usage errors

describe('help and usage errors', () => {
  it('--help works at every level', async () => {
    const levels: Array<{ args: string[]; mentions: string[] }> = [
      { args: ['--help'], mentions: ['serve', 'clients', 'directory'] },
      { args: ['clients', '--help'], mentions: ['create', 'list', 'delete'] },
      { args: ['clients', 'create', '--help'], mentions: ['--name', '--account', '--scopes', '--json', '--data-dir'] },
      { args: ['directory', 'itwin', 'add', '--help'], mentions: ['--account', '--data-dir'] },
      { args: ['serve', '--help'], mentions: ['--port', 'PORT', '--data-dir', 'DATA_DIR', '--host'] },
    ];
    const results = await Promise.all(levels.map((l) => cli(l.args)));
    results.forEach((r, i) => {
      const { args, mentions } = levels[i]!;
      assert.equal(r.code, 0, `${args.join(' ')}: exit 0 (stderr: ${r.stderr})`);
      assert.match(r.stdout, /Usage:/, `${args.join(' ')}: prints usage`);
      for (const m of mentions) assert.ok(r.stdout.includes(m), `${args.join(' ')}: help mentions ${m}`);
      assert.equal(r.stderr, '');
    });
  });

  it('an unknown command or option is a one-line error', async () => {
    const cases = [['bogus'], ['directory', 'itwin', 'bogus'], ['--bogus'], ['clients', 'list', '--bogus'], ['serve', '--bogus']];
    const results = await Promise.all(cases.map((args) => cli(args)));
    results.forEach((r, i) => {
      const line = assertRefused(r, cases[i]!.join(' '));
      assert.match(line, /bogus/, `"${line}" names what was not understood`);
    });
  });
});

// ---------------------------------------------------------------- CLI and server share the store

describe('the CLI and a running server share the store', () => {
  it('a client created and deleted by the CLI is seen by the running server at once', async () => {
    const dataDir = tempDir();
    const server = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--data-dir', dataDir], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(server);
    let stderr = '';
    server.stdout!.resume();
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner within ${TIMEOUT_MS} ms: ${stderr}`)), TIMEOUT_MS);
      server.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${code}): ${stderr}`));
      });
      server.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString('utf8');
        const m = BANNER.exec(stderr);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });

    try {
      const account = randomUUID();
      const client = await createClient(dataDir, [], account);
      const tokenRes = await tokenRequest(url, client.clientId, client.clientSecret);
      const tokenBody = (await tokenRes.json()) as { access_token: string; token_type: string };
      assert.equal(tokenRes.status, 200, JSON.stringify(tokenBody));
      assert.equal(tokenBody.token_type, 'Bearer');
      const auth = { authorization: `Bearer ${tokenBody.access_token}`, 'content-type': 'application/json' };

      const created = await fetch(`${url}/webhooks`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ scope: 'Account', callbackUrl: 'https://receiver.example.com/hook', eventTypes: ['iModels.iModelDeleted.v1'] }),
      });
      const webhook = (await created.json()) as { id: string; scopeId: string };
      assert.equal(created.status, 201, JSON.stringify(webhook));
      assert.equal(webhook.scopeId, account);

      // Directory changes made by the CLI apply to the running server too.
      const itwin = randomUUID();
      await ok(['directory', 'itwin', 'add', itwin, '--account', randomUUID(), '--data-dir', dataDir]);
      const itwinBody = JSON.stringify({ scope: 'iTwin', scopeId: itwin, callbackUrl: 'https://receiver.example.com/hook', eventTypes: ['iModels.iModelDeleted.v1'] });
      const denied = await fetch(`${url}/webhooks`, { method: 'POST', headers: auth, body: itwinBody });
      assert.equal(denied.status, 403);
      await denied.arrayBuffer();
      await ok(['directory', 'grant', client.clientId, '--itwin', itwin, '--data-dir', dataDir]);
      const allowed = await fetch(`${url}/webhooks`, { method: 'POST', headers: auth, body: itwinBody });
      assert.equal(allowed.status, 201, await allowed.text());

      await ok(['clients', 'delete', client.clientId, '--data-dir', dataDir]);
      const afterDelete = await tokenRequest(url, client.clientId, client.clientSecret);
      assert.equal(afterDelete.status, 401);
      assert.equal(((await afterDelete.json()) as { error: string }).error, 'invalid_client');

      // The client's webhooks went with it.
      const gone = await fetch(`${url}/webhooks/${webhook.id}`, { headers: auth });
      assert.notEqual(gone.status, 200, 'the deleted client\'s webhook is no longer served');
      await gone.arrayBuffer();
    } finally {
      server.kill('SIGTERM');
      if (server.exitCode === null && server.signalCode === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.kill('SIGKILL');
            resolve();
          }, 10_000);
          server.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      children.delete(server);
    }
  });
});
