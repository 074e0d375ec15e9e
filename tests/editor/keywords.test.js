// One word list: fails when the ANTLR grammar, the compiler, the VS Code grammar, the
// vim syntax file and the language reference disagree about the language's words.
//
//   keywords       grammar/Amlflow.g4 literal tokens         docs/language.md "Keywords"
//   built-ins      compiler/builtins.cc function_names()
//   types          compiler/schema.cc type_names()
//   kinds          compute, distribution and early-stop kinds (compiler/schema.cc)
//   bare words     enum choices (schema.cc) and the gpus words (evaluator.cc)
//   units          the DURATION and SIZE lexer rules
//
// each compared with the TextMate grammar's repository entry of that name and the vim
// syntax file's `let s:NAME = [...]` list. Needs only Node, no npm packages.
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file) => fs.readFileSync(path.join(ROOT, file), 'utf8');

// --- the sources of truth ------------------------------------------------------------

function quoted(text) {
  return [...text.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
}

function antlr() {
  const g4 = read('grammar/Amlflow.g4');
  const literal = [...g4.matchAll(/^[A-Z_]+\s*:\s*'([a-z]+)'\s*;/gm)].map((m) => m[1]);
  const units = (rule) => {
    const body = g4.match(new RegExp(`^${rule}\\s*:([^;]*);`, 'm'));
    if (!body) throw new Error(`no ${rule} rule in grammar/Amlflow.g4`);
    return [...body[1].matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1]);
  };
  return {
    keywords: literal.filter((w) => w !== 'true' && w !== 'false'),
    booleans: literal.filter((w) => w === 'true' || w === 'false'),
    durationUnits: units('DURATION'),
    sizeUnits: units('SIZE'),
  };
}

function cppList(file, functionName) {
  const source = read(file);
  const body = source.match(new RegExp(`${functionName}\\(\\)\\s*\\{[^}]*?\\{([^}]*)\\}`, 's'));
  if (!body) throw new Error(`no ${functionName}() in ${file}`);
  return quoted(body[1]);
}

function compiler() {
  const schema = read('compiler/schema.cc');
  const enums = [...schema.matchAll(/T::Enum,[^{]*\{([^}]*)\}/g)].flatMap((m) => quoted(m[1]));
  const gpus = read('compiler/evaluator.cc').match(/FieldType::Gpus:\s*words\s*=\s*\{([^}]*)\}/);
  if (!gpus) throw new Error('no gpus words in compiler/evaluator.cc');
  const distributions = cppList('compiler/schema.cc', 'distribution_kinds');
  const earlyStops = cppList('compiler/schema.cc', 'early_stop_kinds');
  return {
    builtins: cppList('compiler/builtins.cc', 'function_names'),
    types: cppList('compiler/schema.cc', 'type_names'),
    kinds: [...cppList('compiler/schema.cc', 'compute_kinds'), ...distributions, ...earlyStops]
      .filter((w) => w !== 'none'),
    bareWords: [...enums, ...quoted(gpus[1]),
      ...[...distributions, ...earlyStops].filter((w) => w === 'none')],
  };
}

function docsKeywords() {
  const docs = read('docs/language.md');
  const block = docs.match(/### Keywords\s*```text\n([\s\S]*?)```/);
  if (!block) throw new Error('no keyword block under "### Keywords" in docs/language.md');
  return block[1].split(/\s+/).filter(Boolean);
}

// --- the editors ---------------------------------------------------------------------

// The words of every alternation group, `(a|b|c)` or `(?:a|b)`, in an entry's regexes.
function textmateWords(grammar, entry) {
  const rule = grammar.repository[entry];
  if (!rule) throw new Error(`no repository entry '${entry}' in the TextMate grammar`);
  const words = [];
  const visit = (node) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const key of ['match', 'begin']) {
      if (typeof node[key] !== 'string') continue;
      for (const m of node[key].matchAll(/\((?:\?:)?([A-Za-z_]+(?:\|[A-Za-z_]+)*)\)/g)) words.push(...m[1].split('|'));
    }
    Object.values(node).forEach(visit);
  };
  visit(rule);
  return words;
}

function vimLists() {
  const source = read('editor/vim/syntax/amlflow.vim').replace(/\n\s*\\/g, ' ');
  const lists = {};
  for (const m of source.matchAll(/^let s:(\w+) = \[([^\]]*)\]/gm)) {
    lists[m[1]] = [...m[2].matchAll(/'([^']*)'/g)].map((w) => w[1]);
  }
  return lists;
}

// --- comparison ----------------------------------------------------------------------

function sameSet(what, expected, actual, failures) {
  const want = new Set(expected);
  const have = new Set(actual);
  if (want.size === 0) failures.push(`${what}: the reference list is empty (did its source change shape?)`);
  const missing = [...want].filter((w) => !have.has(w));
  const extra = [...have].filter((w) => !want.has(w));
  if (missing.length) failures.push(`${what}: missing ${missing.map((w) => `'${w}'`).join(', ')}`);
  if (extra.length) failures.push(`${what}: not in the language: ${extra.map((w) => `'${w}'`).join(', ')}`);
}

function main() {
  const failures = [];
  const g4 = antlr();
  const cc = compiler();
  const tm = JSON.parse(read('editor/vscode/syntaxes/amlflow.tmLanguage.json'));
  const vim = vimLists();

  sameSet('docs/language.md keywords', [...g4.keywords, ...g4.booleans], docsKeywords(), failures);
  // Every keyword but `import` starts (or continues) a declaration or step rule.
  sameSet('TextMate declarations', g4.keywords.filter((w) => w !== 'import'), textmateWords(tm, 'declarations'), failures);
  const checks = [
    ['keywords', g4.keywords, 'keywords', 'keywords'],
    ['booleans', g4.booleans, 'booleans', 'booleans'],
    ['built-in functions', cc.builtins, 'builtin-functions', 'builtins'],
    ['types', cc.types, 'types', 'types'],
    ['kinds', cc.kinds, 'kinds', 'kinds'],
    ['bare words', cc.bareWords, 'bare-words', 'bare_words'],
  ];
  for (const [what, expected, tmEntry, vimList] of checks) {
    sameSet(`TextMate ${what} (repository '${tmEntry}')`, expected, textmateWords(tm, tmEntry), failures);
    sameSet(`vim ${what} (s:${vimList})`, expected, vim[vimList] || [], failures);
  }
  sameSet('TextMate units (repository \'numbers\')', [...g4.durationUnits, ...g4.sizeUnits], textmateWords(tm, 'numbers'), failures);
  sameSet('vim duration units (s:duration_units)', g4.durationUnits, vim.duration_units || [], failures);
  sameSet('vim size units (s:size_units)', g4.sizeUnits, vim.size_units || [], failures);

  for (const failure of failures) console.error(`FAIL ${failure}`);
  console.log(`${g4.keywords.length} keywords, ${cc.builtins.length} built-ins, ${cc.types.length} types, ` +
              `${cc.kinds.length} kinds, ${new Set(cc.bareWords).size} bare words: ${failures.length} failures`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main();
