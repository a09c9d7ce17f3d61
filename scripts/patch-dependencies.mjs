// Applied after every install (package.json "postinstall"): small, checked fixes to
// dependencies, each with the reason. The script fails loudly if a patch no longer applies,
// so an upgrade cannot silently drop one.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

const patches = [
  {
    // postgres.js 3.4.x: a write scheduled with setImmediate can run after the socket closed
    // (socket = null), throwing an uncaught TypeError that kills the process. Seen when a
    // network cut resets connections mid-write. The guard drops the write; the pending query
    // already failed with CONNECTION_CLOSED, so nothing is lost.
    package: 'postgres',
    files: ['src/connection.js', 'cjs/src/connection.js', 'cf/src/connection.js'],
    find: '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)',
    replace: '  function nextWrite(fn) {\n    if (!socket) { chunk = nextWriteTimer = null; return false } // patched: see scripts/patch-dependencies.mjs\n    const x = socket.write(chunk, fn)',
  },
  // openai 6.x formats every request's and response's details (a copy of the options, every
  // header through the Headers iterator) for its debug log before the logger drops them: 2–3%
  // of a worker's CPU and of what it allocates. The guard formats them only at debug level, as
  // the Anthropic SDK of the same generator already does (debugLogRequestDetails).
  ...[
    { file: 'client.mjs', client: 'this', call: 'loggerFor(this).debug(', occurrences: 6 },
    { file: 'client.js', client: 'this', call: '(0, log_1.loggerFor)(this).debug(', occurrences: 6 },
    { file: 'internal/parse.mjs', client: 'client', call: 'loggerFor(client).debug(', occurrences: 2 },
    { file: 'internal/parse.js', client: 'client', call: '(0, log_1.loggerFor)(client).debug(', occurrences: 2 },
  ].map(({ file, client, call, occurrences }) => ({
    package: 'openai',
    files: [file],
    find: call,
    replace: `${client}.logLevel === 'debug' && ${call}`,
    occurrences,
  })),
];

for (const p of patches) {
  const root = path.join(projectRoot, 'node_modules', p.package);
  for (const file of p.files) {
    const full = path.join(root, file);
    const text = readFileSync(full, 'utf8');
    if (text.includes(p.replace)) continue;
    // A patch with `occurrences` rewrites every one of them, and they must all be there.
    const found = text.split(p.find).length - 1;
    if (found === 0 || (p.occurrences !== undefined && found !== p.occurrences)) throw new Error(`patch for ${p.package}/${file} no longer applies: review scripts/patch-dependencies.mjs`);
    writeFileSync(full, p.occurrences !== undefined ? text.split(p.find).join(p.replace) : text.replace(p.find, p.replace));
    console.log(`patched ${p.package}/${file}`);
  }
}
