// The amlflow extension. The grammar, snippets and language configuration are declared in
// package.json; this file only starts the language server, `amlflow lsp`, which speaks
// LSP over its stdin and stdout. The binary is the `amlflow.path` setting (default: the
// `amlflow` on PATH); changing the setting restarts the server.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function serverCommand() {
  const configured = vscode.workspace.getConfiguration('amlflow').get('path');
  return typeof configured === 'string' && configured.trim() !== '' ? configured.trim() : 'amlflow';
}

// No `transport` field: the client then talks over the child's stdio without adding a
// `--stdio` argument, so the command line is exactly `amlflow lsp`.
function serverOptions(command) {
  return { command, args: ['lsp'] };
}

function clientOptions() {
  return {
    documentSelector: [
      { scheme: 'file', language: 'amlflow' },
      { scheme: 'untitled', language: 'amlflow' },
    ],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.amlflow') },
  };
}

async function startServer() {
  const command = serverCommand();
  client = new LanguageClient('amlflow', 'amlflow language server', serverOptions(command), clientOptions());
  try {
    await client.start();
  } catch (error) {
    client = undefined;
    vscode.window.showErrorMessage(
      `amlflow: cannot start '${command} lsp' (${error && error.message ? error.message : error}). ` +
      'Set "amlflow.path" to the amlflow binary.');
  }
}

async function stopServer() {
  const running = client;
  client = undefined;
  if (running) await running.stop();
}

async function restartServer() {
  await stopServer();
  await startServer();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('amlflow.restartServer', restartServer),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('amlflow.path')) restartServer();
    }),
  );
  await startServer();
}

function deactivate() {
  return stopServer();
}

module.exports = { activate, deactivate };
