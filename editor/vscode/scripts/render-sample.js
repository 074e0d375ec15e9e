// Draws docs/images/birds-highlighted.png: examples/birds/birds.amlflow (from its
// `import` line on) highlighted by this extension's TextMate grammar in VS Code's Dark+
// theme. shiki runs the grammar on the same Oniguruma engine as VS Code and writes HTML;
// headless Chromium screenshots it.
//
//   node editor/vscode/scripts/render-sample.js [output.png]      (or: npm run render-sample)
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const EXTENSION = path.resolve(__dirname, '..');
const ROOT = path.resolve(EXTENSION, '..', '..');
const SAMPLE = path.join(ROOT, 'examples', 'birds', 'birds.amlflow');
const OUTPUT = path.resolve(process.argv[2] || path.join(ROOT, 'docs', 'images', 'birds-highlighted.png'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const THEME = 'dark-plus';
const FONT_PX = 14;
const LINE_PX = 20;
const PAD_PX = 20;

function page(code, title, highlighted) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><style>
  html, body { margin: 0; background: #1e1e1e; }
  .title { font: 13px sans-serif; color: #cccccc; background: #252526; padding: 8px ${PAD_PX}px; }
  pre.shiki { margin: 0; padding: ${PAD_PX / 2}px ${PAD_PX}px ${PAD_PX}px; }
  pre.shiki, pre.shiki code { font: ${FONT_PX}px/${LINE_PX}px "DejaVu Sans Mono", "Liberation Mono", monospace; }
</style></head><body><div class="title">${title}</div>${highlighted}</body></html>
`;
}

async function main() {
  const { createHighlighter } = await import('shiki');
  const grammar = JSON.parse(fs.readFileSync(path.join(EXTENSION, 'syntaxes', 'amlflow.tmLanguage.json'), 'utf8'));
  const highlighter = await createHighlighter({ themes: [THEME], langs: [{ ...grammar, name: 'amlflow' }] });
  const lines = fs.readFileSync(SAMPLE, 'utf8').replace(/\n+$/, '').split('\n');
  const code = lines.slice(lines.findIndex((line) => line.startsWith('import'))).join('\n');
  const html = page(code, 'examples/birds/birds.amlflow', highlighter.codeToHtml(code, { lang: 'amlflow', theme: THEME }));

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'amlflow-render-'));
  const htmlFile = path.join(work, 'birds.html');
  fs.writeFileSync(htmlFile, html);
  const columns = Math.max(...code.split('\n').map((line) => line.length));
  const width = Math.ceil(columns * FONT_PX * 0.61) + 2 * PAD_PX + 20;
  const height = code.split('\n').length * LINE_PX + 34 + PAD_PX * 1.5 + 4;
  fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
  execFileSync(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
    `--window-size=${width},${Math.ceil(height)}`, `--screenshot=${OUTPUT}`, `file://${htmlFile}`],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  fs.rmSync(work, { recursive: true, force: true });
  console.log(`wrote ${path.relative(process.cwd(), OUTPUT)} (${width}x${Math.ceil(height)})`);
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
