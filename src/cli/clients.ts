import { Command } from 'commander';
import { checkClientInput, DEFAULT_SECRET_OVERLAP_SECONDS, MAX_SECRET_OVERLAP_SECONDS, registerClient, rotateClientSecret } from '../auth/clients.ts';
import { DEFAULT_CLIENT_SCOPES, parseScopeList } from '../auth/scopes.ts';
import { parseDuration } from '../config/load.ts';
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

  storeCommand(
    clients.command('list').description('List the registered service applications.').option('--account <accountId>', 'only this account').option('--json', 'print JSON'),
  ).action(
    async (opts: { account?: string; json?: boolean }, cmd: Command) => {
      const accountId = opts.account === undefined ? undefined : requireUuid(opts.account, '--account');
      const list = await withStore(cmd, (store) => store.listClients({ accountId }));
      if (opts.json === true) {
        console.log(
          JSON.stringify(
            list.map((c) => ({ clientId: c.clientId, name: c.name, accountId: c.accountId, scopes: c.scopes, createdAt: c.createdAt, created: iso(c.createdAt) })),
          ),
        );
        return;
      }
      printTable(
        ['CLIENT ID', 'NAME', 'ACCOUNT', 'SCOPES', 'CREATED'],
        list.map((c) => [c.clientId, c.name, c.accountId, c.scopes.join(' '), iso(c.createdAt)]),
      );
    },
  );

  storeCommand(
    clients
      .command('rotate-secret')
      .description('Give a service application a new secret (shown only now); the old one keeps working during the overlap.')
      .argument('<clientId>')
      .option('--overlap <duration>', `how long the old secret still works, e.g. 0, 30m, 24h (at most 7d)`, `${DEFAULT_SECRET_OVERLAP_SECONDS / 3600}h`)
      .option('--revoke-tokens', 'also end every token issued before, in every process')
      .option('--json', 'print {"clientId","clientSecret","previousSecretExpires"} as JSON'),
  ).action(async (clientId: string, opts: { overlap: string; revokeTokens?: boolean; json?: boolean }, cmd: Command) => {
    const overlapMs = parseDuration(opts.overlap);
    if (overlapMs === undefined || overlapMs > MAX_SECRET_OVERLAP_SECONDS * 1000) throw new UsageError('--overlap must be a duration from 0 to 7d, e.g. 24h.');
    const rotated = await withStore(cmd, (store) =>
      rotateClientSecret(store, clientId, { overlapSeconds: Math.ceil(overlapMs / 1000), revokeTokens: opts.revokeTokens === true, now: Date.now() }),
    );
    if (rotated === undefined) throw new UsageError(`No client ${clientId}.`);
    const until = rotated.client.previousSecret === undefined ? undefined : iso(rotated.client.previousSecret.expiresAt);
    if (opts.json === true) return void console.log(JSON.stringify({ clientId, clientSecret: rotated.clientSecret, previousSecretExpires: until }));
    console.log(`New secret for ${clientId}.`);
    console.log(`  client secret  ${rotated.clientSecret}`);
    console.log(until === undefined ? '  The previous secret no longer works.' : `  The previous secret works until ${until}.`);
    if (opts.revokeTokens === true) console.log('  Tokens issued before no longer work.');
    console.log('Store the secret now: it cannot be shown again.');
  });

  storeCommand(
    clients.command('delete').description('Delete a service application, its directory permissions and its webhooks.').argument('<clientId>'),
  ).action(async (clientId: string, _opts: unknown, cmd: Command) => {
    const result = await withStore(cmd, (store) => store.deleteClient(clientId));
    if (!result.deleted) throw new UsageError(`No client ${clientId}.`);
    console.log(`Deleted client ${clientId} and its ${result.webhooks} webhook(s).`);
  });

  return clients;
}
