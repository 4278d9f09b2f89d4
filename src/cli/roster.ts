#!/usr/bin/env node
// The `roster` command: one subcommand per part of the system.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registryCommand } from './commands/registry.js';

const program = new Command('roster')
  .description('Roster: a service registry for Node.js')
  .version(VERSION)
  .showHelpAfterError();

program.addCommand(registryCommand());

await program.parseAsync(process.argv);
