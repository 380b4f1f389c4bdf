/**
 * `events trigger` and `listen` as a user runs them: a real `serve`, real receivers
 * (`listen` children) and webhooks created through the HTTP API, all in child processes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHILD_ENV, CLI, runCli, startServe, tokenFor, type ChildServer, type CliResult } from './helpers/child.ts';

const RUN_TIMEOUT_MS = 30_000;

const dirs: string[] = [];
const children = new Set<ChildProcess>();

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

const compileCache = tempDir('itwh-events-cache-');
/** Settings of the host that could leak into the children are blanked (an empty value counts as unset). */
const ENV: Record<string, string> = {
  ITWIN_WEBHOOKS_CLIENT_ID: '',
  ITWIN_WEBHOOKS_CLIENT_SECRET: '',
  ITWIN_WEBHOOKS_SECRET: '',
  ITWIN_WEBHOOKS_URL: '',
  DATA_DIR: '',
  DATABASE_URL: '',
  ENCRYPTION_KEY: '',
  AUTH_AUDIENCE: '',
  PORT: '',
  HOST: '',
  PUBLIC_URL: '',
  NODE_COMPILE_CACHE: compileCache,
};

type Result = CliResult;

/** Runs `itwin-webhooks <args>` to completion. */
const run = (args: string[], env: Record<string, string> = {}): Promise<Result> =>
  runCli(args, { ...ENV, ...env }, { timeoutMs: RUN_TIMEOUT_MS, track: children });

async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await run(args, env);
  assert.equal(r.code, 0, `itwin-webhooks ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A refused command: exit 1, nothing on stdout, exactly one line on stderr. */
function assertRefused(r: Result, what: string): string {
  assert.equal(r.code, 1, `${what}: exit status 1, got ${r.code}; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  const text = r.stderr.trimEnd();
  assert.ok(text.length > 0, `${what}: stderr should explain`);
  assert.equal(text.split('\n').length, 1, `${what}: stderr should be one line, got:\n${r.stderr}`);
  assert.match(text, /^itwin-webhooks: /);
  return text;
}

interface Listener {
  proc: ChildProcess;
  url: string;
  stdout: () => string;
  exited: Promise<number | string>;
}

/** Starts `itwin-webhooks listen --port 0 ...` and reads its URL from the stderr banner. */
async function startListener(args: string[]): Promise<Listener> {
  const proc = spawn(process.execPath, [CLI, 'listen', '--port', '0', ...args], { env: { ...CHILD_ENV, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`listen did not start in time:\n${err}`)), 15_000);
    proc.stderr!.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      const m = /Listening on (http:\/\/127\.0\.0\.1:(\d+)\/) — use this as a webhook callbackUrl/.exec(err);
      if (m !== null && m[2] !== '0') {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`listen exited (${code}) before listening:\n${err}`));
    });
  });
  return { proc, url, stdout: () => out, exited };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The readable blocks a listener printed, one per delivery. */
const blocks = (text: string) => text.split(/\n(?=\d{4}-\d\d-\d\dT\S+Z {2})/).filter((b) => b.trim() !== '');

interface JsonLine {
  verified: boolean | null;
  standardWebhooksVerified: boolean | null;
  eventType: string;
  messageId: string;
  webhookId: string;
  iTwinId?: string;
  content: Record<string, unknown>;
  receivedAt: string;
}
const jsonLines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JsonLine);

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

// ---------------------------------------------------------------- the stage

const ACCOUNT = randomUUID();
const ITWIN = randomUUID();
const SECRET_1 = `s1-${randomUUID()}`;
const SECRET_2 = `s2-${randomUUID()}`;
const SECRET_3 = `s3-${randomUUID()}`;

const CREATED = 'iModels.iModelCreated.v1'; // → webhook 1, readable listener
const REALITY_MODELING = 'realityModeling.jobCompleted.v1'; // → webhook 2, JSON listener
const REALITY_ANALYSIS = 'realityAnalysis.jobCompleted.v1'; // → webhook 2 as well (the count test)
const DELETED = 'iTwins.iTwinDeleted.v1'; // → webhook 3, listener with the wrong secret

let dataDir: string;
let serve: ChildServer;
let readable: Listener;
let json: Listener;
let wrong: Listener;
let sub: { clientId: string; clientSecret: string };
let pub: { clientId: string; clientSecret: string };
let subToken: string;
const webhookIds: string[] = [];

/** `events trigger` with the server's URL and data directory. */
const trigger = (args: string[], env: Record<string, string> = {}) => run(['events', 'trigger', ...args, '--url', serve.url, '--data-dir', dataDir], env);

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${serve.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${subToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

before(async () => {
  dataDir = tempDir('itwh-events-');
  [serve, readable, json, wrong] = await Promise.all([
    startServe(['--allow-insecure-callbacks', '--allow-private-callbacks', '--data-dir', dataDir, '--log-level', 'warn', '--max-in-flight-per-webhook', '64'], ENV),
    startListener(['--secret', SECRET_1]),
    startListener(['--secret', 'not-this-one-but-another', '--secret', SECRET_2, '--json']),
    startListener(['--secret', `wrong-${randomUUID()}`]),
  ]);
  sub = JSON.parse(await ok(['clients', 'create', '--name', 'subscriber', '--account', ACCOUNT, '--json', '--data-dir', dataDir]));
  pub = JSON.parse(await ok(['clients', 'create', '--name', 'producer', '--account', ACCOUNT, '--scopes', 'webhooks:publish', '--json', '--data-dir', dataDir]));
  await ok(['directory', 'itwin', 'add', ITWIN, '--account', ACCOUNT, '--data-dir', dataDir]);
  subToken = await tokenFor(serve.url, sub.clientId, sub.clientSecret);
  const hooks: Array<[Listener, string, string[]]> = [
    [readable, SECRET_1, [CREATED]],
    [json, SECRET_2, [REALITY_MODELING, REALITY_ANALYSIS]],
    [wrong, SECRET_3, [DELETED]],
  ];
  for (const [listener, secret, eventTypes] of hooks) {
    const created = await api('POST', '/webhooks', { callbackUrl: listener.url, scope: 'Account', secret, eventTypes });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const activated = await api('PATCH', `/webhooks/${created.json.id}`, { active: true });
    assert.equal(activated.status, 200, JSON.stringify(activated.json));
    webhookIds.push(created.json.id);
  }
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (serve !== undefined && serve.proc.exitCode === null) {
    serve.proc.kill('SIGKILL');
    await serve.exited;
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------- tests

describe('events trigger and listen', () => {
  it('without credentials signs a local token; the listener prints verified deliveries with fresh ids', async () => {
    // Only what this test's triggers made the listener print (the listener is shared with the suite's other tests).
    const from = readable.stdout().length;
    const printed = () => readable.stdout().slice(from);
    const first = await trigger([CREATED, '--itwin', ITWIN]);
    const second = await trigger([CREATED, '--itwin', ITWIN]);
    for (const r of [first, second]) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      // the account comes from the directory
      assert.equal(r.stdout, `Published 1 × ${CREATED} (iTwin ${ITWIN}, account ${ACCOUNT}): 1 delivery queued.\n`);
    }
    await waitFor(() => blocks(printed()).length >= 2, 'two deliveries at the readable listener');
    const got = blocks(printed());
    assert.equal(got.length, 2, printed());
    const field = (block: string, name: string) => new RegExp(`^  ${name} +(\\S+)$`, 'm').exec(block)?.[1];
    for (const block of got) {
      assert.match(block.split('\n')[0]!, /^\S+Z {2}✔ verified {2}\(Signature ✔, webhook-signature ✔\)$/, block);
      assert.equal(field(block, 'eventType'), CREATED);
      assert.equal(field(block, 'webhookId'), webhookIds[0]);
      assert.equal(field(block, 'iTwinId'), ITWIN);
      assert.match(field(block, 'messageId') ?? '', /^[0-9a-f-]{36}$/);
      assert.match(block, /^ {4}\{\n {6}"imodelId": "[0-9a-f-]{36}",\n {6}"userId": "[0-9a-f-]{36}"\n {4}\}$/m, block);
    }
    const imodelIds = got.map((b) => /"imodelId": "([^"]+)"/.exec(b)?.[1]);
    const messageIds = got.map((b) => field(b, 'messageId'));
    assert.notEqual(imodelIds[0], imodelIds[1], 'fresh content ids per event');
    assert.notEqual(messageIds[0], messageIds[1], 'fresh messageIds');
  });

  it('with --client-id/--client-secret uses client credentials; a client without webhooks:publish is refused with 403', async () => {
    const [good, bad] = await Promise.all([
      trigger([REALITY_MODELING, '--account', ACCOUNT, '--client-id', pub.clientId, '--client-secret', pub.clientSecret, '--json']),
      trigger([REALITY_MODELING, '--account', ACCOUNT, '--client-id', sub.clientId, '--client-secret', sub.clientSecret]),
    ]);
    assert.equal(good.code, 0, good.stderr);
    const results = JSON.parse(good.stdout) as { events: Array<{ messageId: string; eventType: string; enqueuedDateTime: string; matchedWebhooks: number }> };
    assert.equal(results.events.length, 1);
    assert.equal(results.events[0]!.eventType, REALITY_MODELING);
    assert.equal(results.events[0]!.matchedWebhooks, 1);
    const messageId = results.events[0]!.messageId;
    await waitFor(() => jsonLines(json.stdout()).some((l) => l.messageId === messageId), 'the delivery at the JSON listener');
    const line = jsonLines(json.stdout()).find((l) => l.messageId === messageId)!;
    assert.equal(line.verified, true, 'the second --secret matches');
    assert.equal(line.standardWebhooksVerified, true);
    assert.equal(line.webhookId, webhookIds[1]);
    assert.equal(line.eventType, REALITY_MODELING);
    assert.match(String(line.iTwinId), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'an account event is about a fresh iTwin');
    assert.match(String(line.content.jobId), /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(line.receivedAt)));

    const text = assertRefused(bad, 'client without webhooks:publish');
    assert.match(text, /403/);
    assert.match(text, /InsufficientPermissions/);
  });

  it('--count 2500 publishes in batches and every event reaches the matching webhook', async () => {
    const r = await trigger([REALITY_ANALYSIS, '--account', ACCOUNT, '--count', '2500']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no progress bar when stderr is not a terminal');
    // the API takes at most 1000 events a request, so this took batches
    const summary = /^Published 2500 × (\S+) \(iTwin ([0-9a-f-]{36}) \(new\), account ([0-9a-f-]{36})\): 2500 deliveries queued\.\n$/.exec(r.stdout);
    assert.ok(summary !== null, r.stdout);
    assert.deepEqual([summary[1], summary[3]], [REALITY_ANALYSIS, ACCOUNT]);
    const analysis = () => jsonLines(json.stdout()).filter((l) => l.eventType === REALITY_ANALYSIS);
    await waitFor(() => analysis().length >= 2500, '2500 deliveries at the JSON listener', 40_000);
    const lines = analysis();
    assert.equal(new Set(lines.map((l) => l.messageId)).size, 2500, 'distinct messageIds');
    assert.equal(new Set(lines.map((l) => l.content.jobId)).size, 2500, 'fresh content per event');
    assert.ok(lines.every((l) => l.verified === true && l.standardWebhooksVerified === true && l.webhookId === webhookIds[1]));
    assert.ok(lines.every((l) => l.iTwinId === summary[2]), 'every event carries the iTwinId the summary names');
  });

  it('a listener with the wrong secret answers 401 and prints NOT verified', async () => {
    const r = await trigger([DELETED, '--account', ACCOUNT]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: 1 delivery queued\.\n$/);
    let last: any;
    await waitFor(async () => {
      last = (await api('GET', `/webhooks/${webhookIds[2]}/deliveries`)).json?.deliveries?.[0];
      return last?.lastStatusCode === 401;
    }, 'a delivery answered 401');
    assert.equal(last.eventType, DELETED);
    assert.notEqual(last.status, 'succeeded');
    const [block] = blocks(wrong.stdout());
    assert.ok(block !== undefined, 'the listener printed the delivery');
    assert.match(block.split('\n')[0]!, /✘ NOT verified {2}\(Signature ✘, webhook-signature ✘\)/);
    assert.match(block, new RegExp(`^  eventType +${DELETED.replace(/\./g, '\\.')}$`, 'm'));
  });

  it('the listener answers 405 to other methods, 400 to a body that is not JSON and 401 to an unsigned one', async () => {
    const get = await fetch(readable.url);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    await get.text();
    const before = readable.stdout().length;
    const notJson = await fetch(readable.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    assert.equal(notJson.status, 400);
    await notJson.text();
    const unsigned = await fetch(readable.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"eventType":"x.y.v1"}' });
    assert.equal(unsigned.status, 401);
    await unsigned.text();
    await waitFor(() => /NOT verified/.test(readable.stdout().slice(before)), 'the unsigned request printed');
    assert.match(readable.stdout().slice(before), /not a JSON object .*answered 400/);

    // without --secret everything is accepted and shown as unverified
    const open = await startListener(['--json']);
    const res = await fetch(open.url, { method: 'POST', body: '{"eventType":"x.y.v1","messageId":"m","content":{"a":1}}' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { received: true });
    await waitFor(() => open.stdout().includes('\n'), 'the JSON line');
    const [line] = jsonLines(open.stdout());
    assert.equal(line!.verified, null);
    assert.equal(line!.standardWebhooksVerified, null);
    assert.deepEqual(line!.content, { a: 1 });
    open.proc.kill('SIGTERM');
    assert.equal(await open.exited, 0, 'SIGTERM closes the listener with status 0');
  });

  it('without --url finds the server where serve does: PUBLIC_URL, or HOST and PORT', async () => {
    const { hostname, port } = new URL(serve.url);
    const closed = await closedPort();
    const noUrl = (env: Record<string, string>) => run(['events', 'trigger', CREATED, '--itwin', ITWIN, '--data-dir', dataDir], env);
    const [byPort, byPublicUrl, wrongPort] = await Promise.all([
      noUrl({ HOST: hostname, PORT: port }),
      noUrl({ PUBLIC_URL: serve.url, PORT: String(closed) }),
      noUrl({ PORT: String(closed) }),
    ]);
    assert.equal(byPort.code, 0, byPort.stderr);
    assert.match(byPort.stdout, /: 1 delivery queued\.\n$/);
    assert.equal(byPublicUrl.code, 0, byPublicUrl.stderr);
    assert.match(assertRefused(wrongPort, 'PORT of no server'), new RegExp(`server at http://127\\.0\\.0\\.1:${closed} is not reachable`));
  });

  it('without credentials and without a store where DATA_DIR points, it is refused naming the folder as resolved, and creates nothing', async () => {
    const elsewhere = tempDir('itwh-events-nostore-');
    const refused = await runCli(['events', 'trigger', CREATED, '--itwin', ITWIN, '--url', serve.url], ENV, { timeoutMs: RUN_TIMEOUT_MS, track: children, cwd: elsewhere });
    const line = assertRefused(refused, 'no store in ./data');
    assert.ok(line.includes(`no data store in ./data (${join(elsewhere, 'data')})`) && line.includes('--data-dir') && line.includes('--client-id'), line);
    assert.ok(!existsSync(join(elsewhere, 'data')), 'no store was created there');
  });

  it('"0 deliveries queued" says why: a matching webhook is inactive, or none subscribes', async () => {
    const account = randomUUID();
    const owner = JSON.parse(await ok(['clients', 'create', '--name', 'inactive-owner', '--account', account, '--json', '--data-dir', dataDir])) as { clientId: string; clientSecret: string };
    const token = await tokenFor(serve.url, owner.clientId, owner.clientSecret);
    const created = await fetch(`${serve.url}/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ callbackUrl: readable.url, scope: 'Account', eventTypes: ['forms.attachmentAttached.v1'] }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const [inactive, none] = await Promise.all([
      trigger(['forms.attachmentAttached.v1', '--account', account]),
      trigger(['forms.attachmentUnattached.v1', '--account', account]),
    ]);
    assert.equal(inactive.code, 0, inactive.stderr);
    assert.ok(inactive.stdout.includes(`0 deliveries queued: 1 webhook subscribes to it but is inactive (${id}); activate with PATCH /webhooks/{id} {"active": true}.`), inactive.stdout);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /0 deliveries queued: no active webhook subscribes to forms\.attachmentUnattached\.v1 for this iTwin or account\. Webhooks are created inactive/);
  });

  it('bad arguments and an unreachable server: exit 1 and one line', async () => {
    const port = await closedPort();
    const [unknown, notUuid, noScope, badCount, unreachable] = await Promise.all([
      trigger(['iModels.imodelCreated.v1', '--itwin', ITWIN]),
      trigger([CREATED, '--itwin', 'not-a-uuid']),
      trigger([CREATED]),
      trigger([CREATED, '--account', ACCOUNT, '--count', '1000001']),
      run(['events', 'trigger', CREATED, '--account', ACCOUNT, '--url', `http://127.0.0.1:${port}`, '--data-dir', dataDir]),
    ]);
    const unknownText = assertRefused(unknown, 'unknown type');
    assert.match(unknownText, /unknown event type "iModels\.imodelCreated\.v1"; did you mean iModels\.iModelCreated\.v1,/);
    assert.match(assertRefused(notUuid, 'non-UUID --itwin'), /--itwin must be a UUID/);
    assert.match(assertRefused(noScope, 'neither --itwin nor --account'), /--itwin .*--account/);
    assert.match(assertRefused(badCount, '--count too large'), /--count must be an integer from 1 to 1,000,000/);
    assert.match(assertRefused(unreachable, 'unreachable server'), new RegExp(`server at http://127\\.0\\.0\\.1:${port} is not reachable`));
  });

  it('--help of both commands exits 0', async () => {
    const [listenHelp, triggerHelp] = await Promise.all([run(['listen', '--help']), run(['events', 'trigger', '--help'])]);
    assert.equal(listenHelp.code, 0);
    assert.match(listenHelp.stdout, /Usage: itwin-webhooks listen/);
    assert.match(listenHelp.stdout, /--secret <secret>/);
    assert.equal(triggerHelp.code, 0);
    assert.match(triggerHelp.stdout, /Usage: itwin-webhooks events trigger \[options\] <type>/);
    assert.match(triggerHelp.stdout, /--data-dir/);
    assert.match(triggerHelp.stdout, /--auth-audience/);
  });
});
