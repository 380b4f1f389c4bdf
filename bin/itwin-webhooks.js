#!/usr/bin/env node
// Entry point of the itwin-webhooks command. Run through npm (npx itwin-webhooks, npm start)
// so that the Node 24 from node_modules/.bin is the one on the PATH.
import '../src/cli/main.ts';
