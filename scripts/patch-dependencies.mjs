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
];

for (const p of patches) {
  const root = path.join(projectRoot, 'node_modules', p.package);
  for (const file of p.files) {
    const full = path.join(root, file);
    const text = readFileSync(full, 'utf8');
    if (text.includes(p.replace)) continue;
    if (!text.includes(p.find)) throw new Error(`patch for ${p.package}/${file} no longer applies: review scripts/patch-dependencies.mjs`);
    writeFileSync(full, text.replace(p.find, p.replace));
    console.log(`patched ${p.package}/${file}`);
  }
}
