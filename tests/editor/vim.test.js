// Tests of the vim files (editor/vim) in a real vim, run headless:
//  - a .amlflow file gets filetype amlflow, `// %s` comments and 2-space indentation;
//  - the syntax file gives the expected group to keywords, keywords used as field names,
//    declared names, types, built-ins, numbers with units, strings, escapes,
//    interpolation and errors (tests/editor/samples/lexical.amlflow);
//  - re-indenting (gg=G) every example, the stdlib and the sample changes nothing, and
//    the examples stripped of all indentation get it back exactly.
// Skipped (exit 77, which CTest reports as skipped) when vim is not installed.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const VIM_DIR = path.join(ROOT, 'editor', 'vim');
const SAMPLE = path.join(__dirname, 'samples', 'lexical.amlflow');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'amlflow-vim-'));

function vim(file, commands) {
  const args = ['-u', 'NONE', '-i', 'NONE', '-N', '-es',
    '-c', `set rtp^=${VIM_DIR}`, '-c', 'filetype plugin indent on', '-c', 'syntax on',
    '-c', `edit ${file}`, ...commands.flatMap((c) => ['-c', c]), '-c', 'qall!'];
  const result = spawnSync('vim', args, { encoding: 'utf8', timeout: 30000 });
  if (result.error) throw result.error;
  return result;
}

// Writes "ft|commentstring|shiftwidth|expandtab" and, per line, the syntax group of each
// column (joined by spaces) to `out`.
function probe(file, out) {
  vim(file, [
    `let g:lines = [&filetype . '|' . &commentstring . '|' . shiftwidth() . '|' . &expandtab]`,
    `for l in range(1, line('$')) | call add(g:lines, join(map(range(1, max([1, len(getline(l))])), 'synIDattr(synID(l, v:val, 1), "name")'), ' ')) | endfor`,
    `call writefile(g:lines, '${out}')`,
  ]);
  return fs.readFileSync(out, 'utf8').split('\n');
}

function reindent(file, out) {
  vim(file, ['normal! gg=G', `write! ${out}`]);
  return fs.readFileSync(out, 'utf8');
}

// [line, text, group]: the syntax group at the first column of `text` on that line.
const GROUPS = [
  [6, 'import', 'amlflowKeyword'],
  [6, '"std/curated"', 'amlflowString'],
  [6, 'as', 'amlflowKeyword'],
  [8, 'epochs', 'amlflowDeclName'],
  [8, 'int', 'amlflowType'],
  [9, 'string', 'amlflowType'],
  [11, '${', 'amlflowInterpolationDelimiter'],
  [11, 'epochs}', 'amlflowIdentifier'],
  [11, '\\t', 'amlflowEscape'],
  [11, '$NODE_RANK', 'amlflowString'],
  [12, 'env', 'amlflowBuiltin'],
  [12, '\\"USER', 'amlflowInnerString'],
  [13, '}"', 'amlflowInterpolationDelimiter'],
  [15, 'set -e', 'amlflowTripleString'],
  [16, 'epochs}', 'amlflowIdentifier'],
  [16, '"USER"', 'amlflowString'],
  [18, '1.5e-3', 'amlflowFloat'],
  [18, '42', 'amlflowNumber'],
  [19, '500ms', 'amlflowDuration'],
  [19, '1.5h', 'amlflowDuration'],
  [20, '2GiB', 'amlflowSize'],
  [21, 'from', 'amlflowField'],
  [21, 'true', 'amlflowBoolean'],
  [25, 'from', 'amlflowKeyword'],
  [26, 'local', 'amlflowKind'],
  [26, 'all', 'amlflowConstant'],
  [31, 'train', 'amlflowDeclName'],
  [31, 'lr', 'amlflowParameter'],
  [33, 'environment', 'amlflowField'],
  [35, 'mpi', 'amlflowKind'],
  [44, 'over', 'amlflowKeyword'],
  [50, 'minimize', 'amlflowBuiltin'],
  [53, 'model', 'amlflowKeyword'],
  [53, 'outputs', 'amlflowMember'],
  [54, 'onnx', 'amlflowKeyword'],
  [58, '//', 'amlflowLineComment'],
  [59, '10min', 'amlflowBadNumber'],
  [60, '\\q', 'amlflowBadEscape'],
  [62, '#', 'amlflowError'],
  [4, 'block comment', 'amlflowBlockComment'],
];

function checkSample(failures) {
  const lines = fs.readFileSync(SAMPLE, 'utf8').split('\n');
  const dump = probe(SAMPLE, path.join(work, 'probe.txt'));
  if (dump[0] !== 'amlflow|// %s|2|1') failures.push(`filetype|commentstring|shiftwidth|expandtab: '${dump[0]}'`);
  for (const [line, text, group] of GROUPS) {
    const col = lines[line - 1].indexOf(text);
    const groups = (dump[line] || '').split(' ');
    const actual = col < 0 ? `(no '${text}' on the line)` : groups[col];
    if (actual !== group) failures.push(`lexical.amlflow:${line}: '${text}' is ${actual}, want ${group}`);
  }
}

// The .amlflow files of a folder (not the `.amlflow/` run store a run leaves beside them).
function amlflowFiles(folder) {
  return fs.readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.amlflow'))
    .map((entry) => path.join(folder, entry.name)).sort();
}

function checkIndent(failures) {
  const examples = fs.readdirSync(path.join(ROOT, 'examples'))
    .flatMap((dir) => {
      const folder = path.join(ROOT, 'examples', dir);
      return fs.statSync(folder).isDirectory()
        ? amlflowFiles(folder) : [];
    });
  const stdlib = amlflowFiles(path.join(ROOT, 'stdlib', 'std'));
  for (const file of [...examples, ...stdlib, SAMPLE]) {
    const original = fs.readFileSync(file, 'utf8');
    const name = path.relative(ROOT, file);
    if (reindent(file, path.join(work, 'same.amlflow')) !== original) failures.push(`${name}: gg=G changes the file`);
    if (!examples.includes(file)) continue;
    const flat = path.join(work, path.basename(file));
    fs.writeFileSync(flat, original.replace(/^[ \t]+/gm, ''));
    if (reindent(flat, path.join(work, 'again.amlflow')) !== original) failures.push(`${name}: gg=G on the unindented file does not restore it`);
  }
  return examples.length;
}

function main() {
  if (spawnSync('vim', ['--version'], { encoding: 'utf8' }).status !== 0) {
    console.log('vim is not installed: skipped');
    process.exit(77);
  }
  const failures = [];
  checkSample(failures);
  const count = checkIndent(failures);
  fs.rmSync(work, { recursive: true, force: true });
  for (const failure of failures) console.error(`FAIL ${failure}`);
  console.log(`${GROUPS.length} syntax groups, ${count} examples re-indented, ${failures.length} failures`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main();
