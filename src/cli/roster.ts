#!/usr/bin/env node
// The `roster` command: one subcommand per part of the system.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { depsCommand } from './commands/deps.js';
import { deregisterCommand } from './commands/deregister.js';
import { maintCommand } from './commands/maint.js';
import { gradingCommand } from './commands/grading.js';
import { lsCommand } from './commands/ls.js';
import { watchCommand } from './commands/watch.js';
import { logCommand } from './commands/log.js';
import { portalCommand } from './commands/portal.js';
import { registryCommand } from './commands/registry.js';
import { upCommand } from './commands/up.js';
import { rosterUsageError } from './options.js';

const program = new Command('roster')
  .description('Roster: a service registry for Node.js')
  .version(VERSION)
  .showHelpAfterError();

program.addCommand(upCommand());
program.addCommand(registryCommand());
program.addCommand(logCommand());
program.addCommand(gradingCommand());
program.addCommand(portalCommand());
program.addCommand(lsCommand());
program.addCommand(watchCommand());
program.addCommand(depsCommand());
program.addCommand(deregisterCommand());
program.addCommand(maintCommand());
// Usage errors speak as every other message of the command does: "roster: …", not "error: …".
for (const command of [program, ...program.commands]) command.configureOutput({ outputError: rosterUsageError });

await program.parseAsync(process.argv);
