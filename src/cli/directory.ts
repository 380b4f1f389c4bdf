import { Command } from 'commander';
import { KNOWN_PERMISSIONS, MAINTAINER_PERMISSION } from '../auth/scopes.ts';
import { requireUuid, UsageError } from './errors.ts';
import { iso, printTable, storeCommand, withStore } from './store.ts';

function requirePermission(permission: string): string {
  if (!KNOWN_PERMISSIONS.includes(permission)) {
    throw new UsageError(`--permission must be one of: ${KNOWN_PERMISSIONS.join(', ')}.`);
  }
  return permission;
}

export function directoryCommand(): Command {
  const directory = new Command('directory').description(
    'Manage the embedded directory: which account owns each iTwin, and what each application may do.',
  );

  const itwin = directory.command('itwin').description('iTwins and the accounts that own them.');
  storeCommand(
    itwin.command('add').description('Add an iTwin (or move it to another account).').argument('<itwinId>').requiredOption('--account <accountId>', 'owning account (UUID)'),
  ).action(async (itwinId: string, opts: { account: string }, cmd: Command) => {
    const id = requireUuid(itwinId, 'ITWIN_ID');
    const account = requireUuid(opts.account, '--account');
    await withStore(cmd, (store) => store.putItwin(id, account, Date.now()));
    console.log(`iTwin ${id} belongs to account ${account}.`);
  });
  storeCommand(itwin.command('list').description('List iTwins.').option('--account <accountId>', 'only this account').option('--json', 'print JSON')).action(
    async (opts: { account?: string; json?: boolean }, cmd: Command) => {
      const account = opts.account === undefined ? undefined : requireUuid(opts.account, '--account');
      const rows = await withStore(cmd, (store) => store.listItwins(account));
      if (opts.json === true) return void console.log(JSON.stringify(rows.map((r) => ({ ...r, created: iso(r.createdAt) }))));
      printTable(['ITWIN', 'ACCOUNT', 'ADDED'], rows.map((r) => [r.itwinId, r.accountId, iso(r.createdAt)]));
    },
  );
  storeCommand(itwin.command('remove').description('Remove an iTwin and the permissions granted on it.').argument('<itwinId>')).action(
    async (itwinId: string, _opts: unknown, cmd: Command) => {
      const id = requireUuid(itwinId, 'ITWIN_ID');
      if (!(await withStore(cmd, (store) => store.removeItwin(id)))) throw new UsageError(`No iTwin ${id} in the directory.`);
      console.log(`Removed iTwin ${id}.`);
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
        if ((await store.getItwinAccount(itwinId)) === undefined) {
          throw new UsageError(`No iTwin ${itwinId} in the directory; add it first with: directory itwin add ${itwinId} --account ACCOUNT_ID`);
        }
        await store.grant(clientId, itwinId, permission, Date.now());
      });
      console.log(`${clientId} has ${permission} on iTwin ${itwinId}.`);
    },
  );
  grantOptions(directory.command('revoke').description('Take a permission on an iTwin away from an application.')).action(
    async (clientId: string, opts: { itwin: string; permission: string }, cmd: Command) => {
      const itwinId = requireUuid(opts.itwin, '--itwin');
      const permission = requirePermission(opts.permission);
      if (!(await withStore(cmd, (store) => store.revoke(clientId, itwinId, permission)))) {
        throw new UsageError(`${clientId} does not have ${permission} on iTwin ${itwinId}.`);
      }
      console.log(`Revoked ${permission} on iTwin ${itwinId} from ${clientId}.`);
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
      if (!(await withStore(cmd, (store) => store.removeOrgAdmin(clientId, accountId)))) {
        throw new UsageError(`${clientId} is not Organization Administrator of account ${accountId}.`);
      }
      console.log(`${clientId} is no longer Organization Administrator of account ${accountId}.`);
      return;
    }
    await withStore(cmd, (store) => store.addOrgAdmin(clientId, accountId, Date.now()));
    console.log(`${clientId} is Organization Administrator of account ${accountId}.`);
  });
  storeCommand(
    directory.command('org-admins').description('List Organization Administrators.').option('--account <accountId>', 'only this account').option('--json', 'print JSON'),
  ).action(async (opts: { account?: string; json?: boolean }, cmd: Command) => {
    const account = opts.account === undefined ? undefined : requireUuid(opts.account, '--account');
    const rows = await withStore(cmd, (store) => store.listOrgAdmins(account));
    if (opts.json === true) return void console.log(JSON.stringify(rows.map((r) => ({ ...r, created: iso(r.createdAt) }))));
    printTable(['CLIENT ID', 'ACCOUNT', 'SINCE'], rows.map((r) => [r.clientId, r.accountId, iso(r.createdAt)]));
  });

  return directory;
}
