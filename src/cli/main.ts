import { Command, CommanderError } from 'commander';
import { ClientInputError } from '../auth/clients.ts';
import { DirectoryInputError, UnknownItwinError } from '../auth/directory.ts';
import { ConfigError } from '../config/load.ts';
import { KeyError } from '../crypto/secretBox.ts';
import { StoreOpenError, StoreUnavailableError } from '../store/errors.ts';
import { VERSION } from '../version.ts';
import { clientsCommand } from './clients.ts';
import { directoryCommand } from './directory.ts';
import { eventsCommand } from './events.ts';
import { listenCommand } from './listen.ts';
import { UsageError } from './errors.ts';
import { migrateCommand } from './migrate.ts';
import { serveCommand } from './serve.ts';

const EXPECTED = [UsageError, ConfigError, StoreOpenError, StoreUnavailableError, KeyError, ClientInputError, DirectoryInputError, UnknownItwinError];

function buildProgram(): Command {
  const program = new Command('itwin-webhooks')
    .description('Self-hosted iTwin Platform Webhooks API (v2).')
    .version(VERSION)
    .enablePositionalOptions()
    .exitOverride();
  program.addCommand(serveCommand());
  program.addCommand(migrateCommand());
  program.addCommand(clientsCommand());
  program.addCommand(directoryCommand());
  program.addCommand(eventsCommand());
  program.addCommand(listenCommand());
  // Commander applies exitOverride to subcommands created after it only; repeat it down the tree.
  const override = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  override(program);
  return program;
}

/** Runs the CLI; a mistake of the caller or of the setup prints one line and exits 1. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (or the help / version).
      process.exitCode = err.exitCode;
      return;
    }
    if (EXPECTED.some((cls) => err instanceof cls)) {
      process.stderr.write(`itwin-webhooks: ${(err as Error).message}\n`);
    } else {
      process.stderr.write(`itwin-webhooks: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    }
    process.exitCode = 1;
  }
}

await main(process.argv);
