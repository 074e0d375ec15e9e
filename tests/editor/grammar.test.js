// Golden test of the TextMate grammar (editor/vscode/syntaxes/amlflow.tmLanguage.json):
// tokenizes every example, the stdlib and tests/editor/samples/*.amlflow with the engine
// VS Code uses and compares each token's scopes with tests/editor/golden/<name>.scopes.
//
//   node tests/editor/grammar.test.js                           # compare
//   AMLFLOW_UPDATE_GOLDEN=1 node tests/editor/grammar.test.js   # rewrite the goldens
//
// A golden line is `line:col "text" scope scope ...` (the root scope left out, tokens of
// only spaces skipped); a diff in review shows exactly what an editor would colour
// differently. Besides the goldens, a few scopes are asserted outright so that a golden
// rewritten without care cannot make a wrong grammar pass.
'use strict';

const fs = require('fs');
const path = require('path');
const { ROOT, loadGrammar, tokenize } = require('./tokenize');

const GOLDEN_DIR = path.join(__dirname, 'golden');
const UPDATE = process.env.AMLFLOW_UPDATE_GOLDEN === '1';

function amlflowFiles(folder, depth) {
  const found = [];
  if (!fs.existsSync(folder)) return found;
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory() && depth > 0) found.push(...amlflowFiles(full, depth - 1));
    else if (entry.isFile() && entry.name.endsWith('.amlflow')) found.push(full);
  }
  return found.sort();
}

function inputs() {
  const files = [
    ...amlflowFiles(path.join(ROOT, 'examples'), 1),
    ...amlflowFiles(path.join(ROOT, 'stdlib', 'std'), 0),
    ...amlflowFiles(path.join(__dirname, 'samples'), 0),
  ];
  const byName = new Map();
  for (const file of files) {
    const name = path.basename(file, '.amlflow');
    if (byName.has(name)) throw new Error(`two inputs named '${name}': ${byName.get(name)} and ${file}`);
    byName.set(name, file);
  }
  return byName;
}

function render(tokens) {
  return tokens
    .filter((token) => token.text.trim() !== '')
    .map((token) => `${token.line}:${token.col} ${JSON.stringify(token.text)} ${token.scopes.join(' ')}`)
    .join('\n') + '\n';
}

// The first line that differs, with both versions, so a failure reads on its own.
function firstDifference(expected, actual) {
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); ++i) {
    if (a[i] !== b[i]) return `  golden line ${i + 1}: ${a[i] ?? '(none)'}\n  actual line ${i + 1}: ${b[i] ?? '(none)'}`;
  }
  return '';
}

// Scopes that must hold whatever the goldens say: [file, a text its line holds (the first
// such line is used), the token's text, a scope the token must have]. Lines are found by
// their text so that editing an example does not break the list.
const REQUIRED = [
  ['birds', 'import "std/curated"', 'import', 'keyword.control.import'],
  ['birds', 'param epochs', 'param', 'storage.type.param'],
  ['birds', 'param epochs', 'epochs', 'entity.name.variable.param'],
  ['birds', 'param epochs', 'int', 'support.type.primitive'],
  ['birds', 'environment pytorch_birds from', 'from', 'keyword.other.from'],
  ['birds', 'compute here', 'local', 'support.type.compute'],
  ['birds', 'job train(', 'job', 'storage.type.job'],
  ['birds', 'job train(', 'train', 'entity.name.function.job'],
  ['birds', 'environment  = pytorch_birds', 'environment', 'variable.other.property'],  // a keyword as a field name
  ['birds', 'distribution = pytorch', 'pytorch', 'support.type.distribution'],
  ['birds', 'sweep tune over', 'over', 'keyword.other.over'],
  ['birds', 'loguniform(', 'loguniform', 'support.function.builtin'],
  ['birds', 'sampling ', 'random', 'constant.language'],
  ['birds', 'maximize(', 'maximize', 'support.function.builtin'],
  ['birds', 'register model', 'register', 'storage.type.register'],
  ['birds', 'register model', 'model', 'storage.type.model'],
  ['birds', 'export onnx', 'onnx', 'storage.type.onnx'],
  ['birds', 'path = tune.best.outputs', 'outputs', 'variable.other.member'],
  ['curated', '/*', '/*', 'comment.block'],
  ['lexical', '// Every lexical form', ' Every lexical form', 'comment.line.double-slash'],
  ['lexical', 'let run_name', '${', 'punctuation.section.embedded.begin'],
  ['lexical', 'let run_name', 'epochs', 'variable.other.readwrite'],
  ['lexical', 'let run_name', '\\t', 'constant.character.escape'],
  ['lexical', 'let run_name', '\\$', 'constant.character.escape'],
  ['lexical', 'let who', 'USER', 'string.quoted.double'],
  ['lexical', 'python3 train.py --epochs', 'epochs', 'variable.other.readwrite'],
  ['lexical', 'let durations', '30', 'constant.numeric.duration'],
  ['lexical', 'let durations', 'ms', 'keyword.other.unit.duration'],
  ['lexical', 'let numbers', '1.5e-3', 'constant.numeric.float'],
  ['lexical', 'let sizes', 'GiB', 'keyword.other.unit.size'],
  ['lexical', 'let flags', 'true', 'constant.language.boolean'],
  ['lexical', 'let flags', 'from', 'variable.other.property'],
  ['lexical', 'let bad_unit', '10min', 'invalid.illegal.unit'],
  ['lexical', 'let bad_escape', '\\q', 'invalid.illegal.unknown-escape'],
  ['lexical', '# not a comment', '#', 'invalid.illegal.character'],
];

function checkRequired(sources, tokensByName, failures) {
  for (const [name, context, text, scope] of REQUIRED) {
    const lines = (sources.get(name) || '').split(/\r?\n/);
    const line = lines.findIndex((l) => l.includes(context)) + 1;
    const tokens = tokensByName.get(name) || [];
    const token = tokens.find((t) => t.line === line && t.text.startsWith(text));
    if (!token || !token.scopes.some((s) => s.startsWith(scope))) {
      failures.push(`${name}:${line || `(no line with '${context}')`}: '${text}' should be ${scope}, is ${token ? token.scopes.join(' ') : 'missing'}`);
    }
  }
}

function compareGolden(name, actual, failures) {
  const golden = path.join(GOLDEN_DIR, `${name}.scopes`);
  if (UPDATE) {
    if (!fs.existsSync(golden) || fs.readFileSync(golden, 'utf8') !== actual) {
      fs.writeFileSync(golden, actual);
      console.log(`updated ${path.relative(ROOT, golden)}`);
    }
    return;
  }
  if (!fs.existsSync(golden)) {
    failures.push(`${name}: no golden ${path.relative(ROOT, golden)} (run with AMLFLOW_UPDATE_GOLDEN=1)`);
  } else {
    const expected = fs.readFileSync(golden, 'utf8');
    if (expected !== actual) failures.push(`${name}: scopes differ from ${path.relative(ROOT, golden)}\n${firstDifference(expected, actual)}`);
  }
}

function checkStaleGoldens(names, failures) {
  for (const file of fs.readdirSync(GOLDEN_DIR)) {
    const name = file.replace(/\.scopes$/, '');
    if (names.has(name)) continue;
    if (UPDATE) {
      fs.unlinkSync(path.join(GOLDEN_DIR, file));
      console.log(`removed tests/editor/golden/${file}`);
    } else {
      failures.push(`tests/editor/golden/${file} has no input file any more`);
    }
  }
}

async function main() {
  const grammar = await loadGrammar();
  const files = inputs();
  const failures = [];
  const tokensByName = new Map();
  const sources = new Map();
  fs.mkdirSync(GOLDEN_DIR, { recursive: true });
  for (const [name, file] of files) {
    sources.set(name, fs.readFileSync(file, 'utf8'));
    const tokens = tokenize(grammar, sources.get(name));
    tokensByName.set(name, tokens);
    compareGolden(name, render(tokens), failures);
  }
  checkRequired(sources, tokensByName, failures);
  checkStaleGoldens(new Set(files.keys()), failures);
  for (const failure of failures) console.error(`FAIL ${failure}`);
  console.log(`${files.size} files tokenized, ${REQUIRED.length} required scopes, ${failures.length} failures`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
