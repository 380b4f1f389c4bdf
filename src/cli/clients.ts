import { Command } from 'commander';
import { checkClientInput, registerClient } from '../auth/clients.ts';
import { DEFAULT_CLIENT_SCOPES, parseScopeList } from '../auth/scopes.ts';
import { requireUuid, UsageError } from './errors.ts';
import { iso, printTable, storeCommand, withStore } from './store.ts';

export function clientsCommand(): Command {
  const clients = new Command('clients').description('Manage the service applications of the built-in OAuth2 issuer.');

  storeCommand(
    clients
      .command('create')
      .description('Register a service application and print its client id and secret (the secret is shown only now).')
      .requiredOption('--name <name>', 'display name of the application')
      .requiredOption('--account <accountId>', 'the account (organization) the application belongs to (UUID)')
      .option('--scopes <scopes>', `space-separated scopes (default "${DEFAULT_CLIENT_SCOPES.join(' ')}")`)
      .option('--json', 'print {"clientId","clientSecret","accountId"} as JSON'),
  ).action(async (opts: { name: string; account: string; scopes?: string; json?: boolean }, cmd: Command) => {
    const accountId = requireUuid(opts.account, '--account');
    const scopes = opts.scopes === undefined ? [...DEFAULT_CLIENT_SCOPES] : parseScopeList(opts.scopes);
    checkClientInput({ name: opts.name, scopes }); // before the store is opened (or created)
    const created = await withStore(cmd, (store) => registerClient(store, { name: opts.name, accountId, scopes, now: Date.now() }));
    if (opts.json === true) {
      console.log(JSON.stringify({ clientId: created.clientId, clientSecret: created.clientSecret, accountId: created.accountId }));
      return;
    }
    console.log(`Created client "${created.name}" for account ${created.accountId}.`);
    console.log(`  client id      ${created.clientId}`);
    console.log(`  client secret  ${created.clientSecret}`);
    console.log(`  scopes         ${created.scopes.join(' ')}`);
    console.log('Store the secret now: it cannot be shown again.');
  });

  storeCommand(clients.command('list').description('List the registered service applications.').option('--json', 'print JSON')).action(
    async (opts: { json?: boolean }, cmd: Command) => {
      const list = await withStore(cmd, (store) => store.listClients());
      if (opts.json === true) {
        console.log(JSON.stringify(list.map(({ secretHash: _hash, ...c }) => ({ ...c, created: iso(c.createdAt) }))));
        return;
      }
      printTable(
        ['CLIENT ID', 'NAME', 'ACCOUNT', 'SCOPES', 'CREATED'],
        list.map((c) => [c.clientId, c.name, c.accountId, c.scopes.join(' '), iso(c.createdAt)]),
      );
    },
  );

  storeCommand(
    clients.command('delete').description('Delete a service application, its directory permissions and its webhooks.').argument('<clientId>'),
  ).action(async (clientId: string, _opts: unknown, cmd: Command) => {
    const result = await withStore(cmd, (store) => store.deleteClient(clientId));
    if (!result.deleted) throw new UsageError(`No client ${clientId}.`);
    console.log(`Deleted client ${clientId} and its ${result.webhooks} webhook(s).`);
  });

  return clients;
}
