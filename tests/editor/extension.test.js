// Tests of the VS Code extension's own files (editor/vscode):
//  - package.json declares the language, grammar, snippets, configuration and server
//    setting, and every file it names exists;
//  - extension.js, run against stand-ins for the `vscode` and `vscode-languageclient`
//    modules, starts `amlflow lsp` (or the `amlflow.path` binary), restarts it when the
//    setting changes, and says what to set when the binary cannot start;
//  - the language configuration's indentation rules indent after an open bracket only;
//  - every snippet, its placeholders filled with their defaults, tokenizes with the
//    grammar without an invalid token and with balanced brackets.
'use strict';

const fs = require('fs');
const path = require('path');
const Module = require('module');
const { EXTENSION, loadGrammar, tokenize } = require('./tokenize');

const failures = [];
const check = (ok, message) => { if (!ok) failures.push(message); };
const readJson = (file) => JSON.parse(fs.readFileSync(path.join(EXTENSION, file), 'utf8'));

function checkManifest() {
  const manifest = readJson('package.json');
  const contributes = manifest.contributes || {};
  const language = (contributes.languages || []).find((l) => l.id === 'amlflow');
  check(language && language.extensions.includes('.amlflow'), 'package.json: no language amlflow for .amlflow files');
  const grammar = (contributes.grammars || []).find((g) => g.language === 'amlflow');
  check(grammar && grammar.scopeName === 'source.amlflow', 'package.json: no grammar source.amlflow');
  const snippets = (contributes.snippets || []).find((s) => s.language === 'amlflow');
  check(snippets, 'package.json: no snippets');
  const setting = ((contributes.configuration || {}).properties || {})['amlflow.path'];
  check(setting && setting.default === 'amlflow', 'package.json: no setting amlflow.path defaulting to amlflow');
  check(manifest.dependencies && manifest.dependencies['vscode-languageclient'], 'package.json: vscode-languageclient is not a dependency');
  for (const file of [manifest.main, language && language.configuration, grammar && grammar.path, snippets && snippets.path]) {
    check(file && fs.existsSync(path.join(EXTENSION, file)), `package.json names '${file}', which does not exist`);
  }
  if (grammar) check(readJson(grammar.path).scopeName === grammar.scopeName, 'the grammar file has another scopeName');
}

// --- extension.js against stand-ins ----------------------------------------------------

function fakeModules(settings, log) {
  const listeners = [];
  const vscode = {
    workspace: {
      getConfiguration: (section) => ({ get: (key) => settings[`${section}.${key}`] }),
      createFileSystemWatcher: (glob) => ({ glob }),
      onDidChangeConfiguration: (listener) => { listeners.push(listener); return { dispose() {} }; },
    },
    commands: { registerCommand: (name, fn) => { log.commands[name] = fn; return { dispose() {} }; } },
    window: { showErrorMessage: (text) => log.errors.push(text) },
    changeSetting: async (key, value) => {
      settings[key] = value;
      for (const listener of listeners) await listener({ affectsConfiguration: (k) => k === key });
    },
  };
  class LanguageClient {
    constructor(id, name, server, client) {
      Object.assign(this, { id, name, server, client, stopped: false });
      log.clients.push(this);
    }
    async start() { if (log.failStart) throw new Error('spawn ENOENT'); }
    async stop() { this.stopped = true; }
  }
  return { vscode, languageclient: { LanguageClient } };
}

async function loadExtension(fakes) {
  const originalLoad = Module._load;
  Module._load = function load(request, parent, isMain) {
    if (request === 'vscode') return fakes.vscode;
    if (request === 'vscode-languageclient/node') return fakes.languageclient;
    return originalLoad.call(this, request, parent, isMain);
  };
  try {
    const file = require.resolve(path.join(EXTENSION, 'extension.js'));
    delete require.cache[file];
    return require(file);
  } finally {
    Module._load = originalLoad;
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

async function checkActivation() {
  const log = { clients: [], errors: [], commands: {}, failStart: false };
  const fakes = fakeModules({}, log);
  const extension = await loadExtension(fakes);
  await extension.activate({ subscriptions: [] });
  const first = log.clients[0];
  check(first && first.server.command === 'amlflow', `the server command is ${first && first.server.command}, want amlflow`);
  check(first && JSON.stringify(first.server.args) === '["lsp"]', `the server args are ${first && JSON.stringify(first.server.args)}`);
  check(first && first.server.transport === undefined, 'a transport is set (it would add --stdio to the command line)');
  check(first && first.client.documentSelector.some((s) => s.language === 'amlflow'), 'the client does not select amlflow documents');
  check(typeof log.commands['amlflow.restartServer'] === 'function', 'no amlflow.restartServer command');

  await fakes.vscode.changeSetting('amlflow.path', ' /opt/amlflow/bin/amlflow ');
  await settle();
  const second = log.clients[1];
  check(first && first.stopped, 'changing amlflow.path does not stop the running server');
  check(second && second.server.command === '/opt/amlflow/bin/amlflow', `after the change the command is ${second && second.server.command}`);

  log.failStart = true;
  await log.commands['amlflow.restartServer']();
  check(log.errors.length === 1 && /amlflow\.path/.test(log.errors[0]) && /\/opt\/amlflow\/bin\/amlflow lsp/.test(log.errors[0]),
        `a server that cannot start gives: ${JSON.stringify(log.errors)}`);
  await extension.deactivate();
}

// --- language configuration ------------------------------------------------------------

function checkIndentationRules() {
  const rules = readJson('language-configuration.json').indentationRules;
  const increase = new RegExp(rules.increaseIndentPattern);
  const decrease = new RegExp(rules.decreaseIndentPattern);
  for (const line of ['job train {', '  args = [', 'job t(', '  retry {  ']) {
    check(increase.test(line), `no indent after '${line}'`);
  }
  for (const line of ['compute here : local { cpus = 2 }', 'x = "{"', '// a {', 'args = ["a", "b"]', 'register model m { path = "x" }']) {
    check(!increase.test(line), `an indent after '${line}'`);
  }
  check(decrease.test('  }') && decrease.test(']') && !decrease.test('  x = 1'), 'decreaseIndentPattern');
}

// --- snippets ----------------------------------------------------------------------------

// A snippet body as inserted when every placeholder keeps its default.
function expand(body) {
  let text = body.join('\n');
  for (let previous = ''; previous !== text;) {
    previous = text;
    text = text.replace(/\$\{\d+:([^{}$]*)\}/g, '$1')
      .replace(/\$\{\d+\|([^,|]*)[^|]*\|\}/g, '$1')
      .replace(/\$\{\d+\}|\$\d+/g, '');
  }
  return text;
}

async function checkSnippets() {
  const grammar = await loadGrammar();
  const snippets = readJson('snippets/amlflow.json');
  const wanted = ['environment', 'compute local', 'compute amlcompute', 'experiment', 'job', 'sweep', 'register model', 'export onnx', 'download'];
  for (const name of wanted) check(snippets[name], `no snippet '${name}'`);
  for (const [name, snippet] of Object.entries(snippets)) {
    const text = expand(snippet.body);
    check(!text.includes('$'), `snippet '${name}' keeps a placeholder: ${text}`);
    const tokens = tokenize(grammar, text);
    const bad = tokens.filter((t) => t.scopes.some((s) => s.startsWith('invalid')));
    check(bad.length === 0, `snippet '${name}' has invalid tokens: ${bad.map((t) => t.text).join(' ')}`);
    const first = tokens.find((t) => t.text.trim() !== '');
    check(first && first.scopes.some((s) => /^(storage\.type|keyword\.control)\./.test(s)), `snippet '${name}' does not start with a keyword`);
    const depth = tokens.filter((t) => t.scopes.some((s) => s.startsWith('punctuation.section.'))).reduce((d, t) => d + (/^[{[(]$/.test(t.text) ? 1 : /^[}\])]$/.test(t.text) ? -1 : 0), 0);
    check(depth === 0, `snippet '${name}' has unbalanced brackets`);
  }
  return Object.keys(snippets).length;
}

async function main() {
  checkManifest();
  await checkActivation();
  checkIndentationRules();
  const count = await checkSnippets();
  for (const failure of failures) console.error(`FAIL ${failure}`);
  console.log(`manifest, activation, indentation rules, ${count} snippets: ${failures.length} failures`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
