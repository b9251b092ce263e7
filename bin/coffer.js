#!/usr/bin/env node
// Before anything else loads: a SIGUSR1 listener keeps Node's inspector closed. Without one, Node
// opens it on 127.0.0.1:9229 when it gets SIGUSR1, and any local process could then attach and read
// the token and the secrets. Static imports would load the whole CLI first, so main is imported
// dynamically after the listener is in place. It stays for the life of the process; `coffer run`
// forwards SIGUSR1 to its child (src/cli/commands/run.ts).
process.on('SIGUSR1', () => {});
await import('../dist/src/cli/main.js');
