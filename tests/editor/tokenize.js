// Tokenizes amlflow text with the TextMate engine VS Code itself uses (vscode-textmate on
// the Oniguruma regex library compiled to WebAssembly), so what the tests see is what an
// editor shows. The npm packages live in editor/vscode/node_modules
// (scripts/install-node-deps.sh installs them).
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const EXTENSION = path.join(ROOT, 'editor', 'vscode');
const GRAMMAR = path.join(EXTENSION, 'syntaxes', 'amlflow.tmLanguage.json');
const SCOPE = 'source.amlflow';

function requireTooling(name) {
  try {
    return require(require.resolve(name, { paths: [EXTENSION] }));
  } catch (error) {
    console.error(`error: cannot load '${name}' from ${EXTENSION}/node_modules ` +
                  `(run scripts/install-node-deps.sh): ${error.message}`);
    process.exit(1);
  }
}

async function loadGrammar() {
  const oniguruma = requireTooling('vscode-oniguruma');
  const textmate = requireTooling('vscode-textmate');
  const wasmPath = require.resolve('vscode-oniguruma/release/onig.wasm', { paths: [EXTENSION] });
  await oniguruma.loadWASM(fs.readFileSync(wasmPath).buffer);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== SCOPE) return null;
      return textmate.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR);
    },
  });
  const grammar = await registry.loadGrammar(SCOPE);
  return { grammar, initialState: textmate.INITIAL };
}

// Every token of `text`: { line, col (both 1-based), text, scopes (without the root scope) }.
function tokenize({ grammar, initialState }, text) {
  const tokens = [];
  let state = initialState;
  text.split(/\r?\n/).forEach((lineText, index) => {
    const result = grammar.tokenizeLine(lineText, state);
    for (const token of result.tokens) {
      const end = Math.min(token.endIndex, lineText.length);
      if (token.startIndex >= end) continue;
      tokens.push({
        line: index + 1,
        col: token.startIndex + 1,
        text: lineText.slice(token.startIndex, end),
        scopes: token.scopes.filter((scope) => scope !== SCOPE),
      });
    }
    state = result.ruleStack;
  });
  return tokens;
}

module.exports = { ROOT, EXTENSION, GRAMMAR, loadGrammar, tokenize };
