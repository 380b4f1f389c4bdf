import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { grantPermission, permissionProblem, syncAccountDirectory, UnknownItwinError } from '../auth/directory.ts';
import { KNOWN_PERMISSIONS, MAINTAINER_PERMISSION } from '../auth/scopes.ts';
import type { AccountDirectory, DirectoryEffects, Store } from '../store/types.ts';
import { requireUuid, UsageError } from './errors.ts';
import { iso, printTable, storeCommand, withStore } from './store.ts';

function requirePermission(permission: string): string {
  if (permissionProblem(permission) !== undefined) throw new UsageError(`--permission must be one of: ${KNOWN_PERMISSIONS.join(', ')}.`);
  return permission;
}

/** Tells what a change did to webhooks whose owners lost the right to them. */
function reportDeactivated(effects: DirectoryEffects): void {
  if (effects.deactivated.length > 0) {
    console.log(`Deactivated ${effects.deactivated.length} webhook(s) whose owner no longer may manage them: ${effects.deactivated.join(', ')}.`);
  }
}

/**
 * A client id the built-in issuer has not registered is usually a typo, which a grant would
 * otherwise take without a word. It is not refused: an external issuer's applications are
 * registered nowhere here, and a grant names them by the client id their tokens carry.
 */
async function warnIfUnregistered(store: Pick<Store, 'getClient'>, clientId: string, what: string): Promise<void> {
  if ((await store.getClient(clientId)) !== undefined) return;
  process.stderr.write(
    `itwin-webhooks: warning: no application ${clientId} is registered with the built-in issuer (see clients list); ${what} applies only to tokens from an external issuer that name this client id.\n`,
  );
}

/** Reads a sync file: {"itwins": [...], "grants": [{clientId, itwinId, permission}], "orgAdmins": [...]}. */
function readDirectoryFile(path: string): AccountDirectory {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path === '-' ? 0 : path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${path} is not a readable JSON file: ${(err as Error).message}`);
  }
  const p = parsed as Partial<Record<keyof AccountDirectory, unknown>>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const grants = (v: unknown) =>
    Array.isArray(v) && v.every((g) => typeof g === 'object' && g !== null && ['clientId', 'itwinId', 'permission'].every((k) => typeof (g as Record<string, unknown>)[k] === 'string'));
  if (typeof parsed !== 'object' || parsed === null || !strings(p.itwins ?? []) || !grants(p.grants ?? []) || !strings(p.orgAdmins ?? [])) {
    throw new UsageError(`${path} must hold {"itwins": [ITWIN_ID...], "grants": [{"clientId", "itwinId", "permission"}...], "orgAdmins": [CLIENT_ID...]}.`);
  }
  return {
    itwins: ((p.itwins ?? []) as string[]).map((i, n) => requireUuid(i, `itwins[${n}]`)),
    grants: ((p.grants ?? []) as AccountDirectory['grants']).map((g, n) => ({ ...g, itwinId: requireUuid(g.itwinId, `grants[${n}].itwinId`) })),
    orgAdmins: (p.orgAdmins ?? []) as string[],
  };
}

export function directoryCommand(): Command {
  const directory = new Command('directory').description(
    'Manage the embedded directory: which account owns each iTwin, and what each application may do.',
  );

  const itwin = directory.command('itwin').description('iTwins and the accounts that own them.');
  storeCommand(
    itwin
      .command('add')
      .description('Add an iTwin, or move it to another account (which drops every grant on it).')
      .argument('<itwinId>')
      .requiredOption('--account <accountId>', 'owning account (UUID)'),
  ).action(async (itwinId: string, opts: { account: string }, cmd: Command) => {
    const id = requireUuid(itwinId, 'ITWIN_ID');
    const account = requireUuid(opts.account, '--account');
    const result = await withStore(cmd, (store) => store.putItwin(id, account, Date.now()));
    console.log(
      result.movedFrom === undefined
        ? `iTwin ${id} belongs to account ${account}.`
        : `iTwin ${id} moved from account ${result.movedFrom} to account ${account}; the permissions granted on it were removed.`,
    );
    reportDeactivated(result);
  });
  storeCommand(itwin.command('list').description('List iTwins.').option('--account <accountId>', 'only this account').option('--json', 'print JSON')).action(
    async (opts: { account?: string; json?: boolean }, cmd: Command) => {
      const accountId = opts.account === undefined ? undefined : requireUuid(opts.account, '--account');
      const rows = await withStore(cmd, (store) => store.listItwins({ accountId }));
      if (opts.json === true) return void console.log(JSON.stringify(rows.map((r) => ({ ...r, created: iso(r.createdAt) }))));
      printTable(['ITWIN', 'ACCOUNT', 'ADDED'], rows.map((r) => [r.itwinId, r.accountId, iso(r.createdAt)]));
    },
  );
  storeCommand(itwin.command('remove').description('Remove an iTwin and the permissions granted on it.').argument('<itwinId>')).action(
    async (itwinId: string, _opts: unknown, cmd: Command) => {
      const id = requireUuid(itwinId, 'ITWIN_ID');
      const result = await withStore(cmd, (store) => store.removeItwin(id, Date.now()));
      if (!result.removed) throw new UsageError(`No iTwin ${id} in the directory.`);
      console.log(`Removed iTwin ${id}.`);
      reportDeactivated(result);
    },
  );

  const grantOptions = (cmd: Command) =>
    storeCommand(
      cmd
        .argument('<clientId>')
        .requiredOption('--itwin <itwinId>', 'the iTwin (UUID)')
        .requiredOption('--permission <permission>', `the permission (${KNOWN_PERMISSIONS.join(', ')})`, MAINTAINER_PERMISSION),
    );
  grantOptions(directory.command('grant').description('Give an application a permission on an iTwin.')).action(
    async (clientId: string, opts: { itwin: string; permission: string }, cmd: Command) => {
      const itwinId = requireUuid(opts.itwin, '--itwin');
      const permission = requirePermission(opts.permission);
      await withStore(cmd, async (store) => {
        await grantPermission(store, clientId, itwinId, permission, Date.now()).catch((err: unknown) => {
          if (err instanceof UnknownItwinError) {
            throw new UsageError(`No iTwin ${itwinId} in the directory; add it first with: directory itwin add ${itwinId} --account ACCOUNT_ID`);
          }
          throw err;
        });
        await warnIfUnregistered(store, clientId, 'the grant');
      });
      console.log(`${clientId} has ${permission} on iTwin ${itwinId}.`);
    },
  );
  grantOptions(directory.command('revoke').description('Take a permission on an iTwin away from an application (its webhooks there stop).')).action(
    async (clientId: string, opts: { itwin: string; permission: string }, cmd: Command) => {
      const itwinId = requireUuid(opts.itwin, '--itwin');
      const permission = requirePermission(opts.permission);
      const result = await withStore(cmd, (store) => store.revoke(clientId, itwinId, permission, Date.now()));
      if (!result.revoked) throw new UsageError(`${clientId} does not have ${permission} on iTwin ${itwinId}.`);
      console.log(`Revoked ${permission} on iTwin ${itwinId} from ${clientId}.`);
      reportDeactivated(result);
    },
  );
  storeCommand(
    directory
      .command('grants')
      .description('List permissions granted on iTwins.')
      .option('--client <clientId>', 'only this application')
      .option('--itwin <itwinId>', 'only this iTwin')
      .option('--json', 'print JSON'),
  ).action(async (opts: { client?: string; itwin?: string; json?: boolean }, cmd: Command) => {
    const itwinId = opts.itwin === undefined ? undefined : requireUuid(opts.itwin, '--itwin');
    const rows = await withStore(cmd, (store) => store.listGrants({ clientId: opts.client, itwinId }));
    if (opts.json === true) return void console.log(JSON.stringify(rows.map((r) => ({ ...r, created: iso(r.createdAt) }))));
    printTable(['CLIENT ID', 'ITWIN', 'PERMISSION', 'GRANTED'], rows.map((r) => [r.clientId, r.itwinId, r.permission, iso(r.createdAt)]));
  });

  storeCommand(
    directory
      .command('org-admin')
      .description('Make an application Organization Administrator of an account (or, with --remove, stop it being one).')
      .argument('<clientId>')
      .requiredOption('--account <accountId>', 'the account (UUID)')
      .option('--remove', 'remove the role instead of granting it'),
  ).action(async (clientId: string, opts: { account: string; remove?: boolean }, cmd: Command) => {
    const accountId = requireUuid(opts.account, '--account');
    if (opts.remove === true) {
      const result = await withStore(cmd, (store) => store.removeOrgAdmin(clientId, accountId, Date.now()));
      if (!result.removed) throw new UsageError(`${clientId} is not Organization Administrator of account ${accountId}.`);
      console.log(`${clientId} is no longer Organization Administrator of account ${accountId}.`);
      reportDeactivated(result);
      return;
    }
    await withStore(cmd, async (store) => {
      await store.addOrgAdmin(clientId, accountId, Date.now());
      await warnIfUnregistered(store, clientId, 'the role');
    });
    console.log(`${clientId} is Organization Administrator of account ${accountId}.`);
  });
  storeCommand(
    directory.command('org-admins').description('List Organization Administrators.').option('--account <accountId>', 'only this account').option('--json', 'print JSON'),
  ).action(async (opts: { account?: string; json?: boolean }, cmd: Command) => {
    const accountId = opts.account === undefined ? undefined : requireUuid(opts.account, '--account');
    const rows = await withStore(cmd, (store) => store.listOrgAdmins({ accountId }));
    if (opts.json === true) return void console.log(JSON.stringify(rows.map((r) => ({ ...r, created: iso(r.createdAt) }))));
    printTable(['CLIENT ID', 'ACCOUNT', 'SINCE'], rows.map((r) => [r.clientId, r.accountId, iso(r.createdAt)]));
  });

  storeCommand(
    directory
      .command('export')
      .description('Print one account\'s whole directory (its iTwins, the grants on them, its administrators) as JSON, as `directory sync` takes it.')
      .requiredOption('--account <accountId>', 'the account (UUID)'),
  ).action(async (opts: { account: string }, cmd: Command) => {
    const accountId = requireUuid(opts.account, '--account');
    console.log(JSON.stringify(await withStore(cmd, (store) => store.getAccountDirectory(accountId)), null, 2));
  });
  storeCommand(
    directory
      .command('sync')
      .description('Make one account\'s directory exactly what FILE holds (JSON, - for standard input); prints what was added and removed.')
      .argument('<file>')
      .requiredOption('--account <accountId>', 'the account (UUID)'),
  ).action(async (file: string, opts: { account: string }, cmd: Command) => {
    const accountId = requireUuid(opts.account, '--account');
    const desired = readDirectoryFile(file);
    const result = await withStore(cmd, (store) => syncAccountDirectory(store, accountId, desired, Date.now()));
    console.log(JSON.stringify(result, null, 2));
  });

  return directory;
}
