// Microsoft's own description of every Azure ML resource-manager body: the `Mappers` of the
// generated `@azure/arm-machinelearning` SDK (src/models/mappers.ts, api-version 2022-10-01).
// The package's CommonJS bundle keeps them private and its ES module build is not loadable as
// a module from a package without "type": "module" on Node 20, so the file is read as text
// and evaluated once: it is plain data (object literals, RegExps, Object.assign), no imports.
'use strict';

const fs = require('fs');
const path = require('path');

let cached = null;

function mappersFile() {
  const main = require.resolve('@azure/arm-machinelearning');
  const root = path.resolve(path.dirname(main), '..');
  return path.join(root, 'dist-esm', 'src', 'models', 'mappers.js');
}

// Returns { mappers: {ClassName: mapper}, discriminators: {"Base.value": mapper} }.
function loadMappers() {
  if (cached) return cached;
  const text = fs.readFileSync(mappersFile(), 'utf8');
  if (/^\s*import\s/m.test(text)) {
    throw new Error(`${mappersFile()}: unexpected import statement; the mappers file changed shape`);
  }
  const names = [];
  const body = text.replace(/^export (const|let) (\w+)/gm, (_, kind, name) => {
    names.push(name);
    return `${kind} ${name}`;
  });
  const build = new Function(`'use strict';\n${body}\nreturn { ${names.join(', ')} };`);
  const all = build();
  const { discriminators } = all;
  delete all.discriminators;
  cached = { mappers: all, discriminators };
  return cached;
}

module.exports = { loadMappers };
