#!/usr/bin/env node
// Starts the emulator: `node src/main.js --blob-endpoint http://127.0.0.1:P/devstoreaccount1
// [--port N] [--port-file F] [--client-secret S] ...` (every DEFAULTS key of server.js, in
// kebab case). Prints `listening on URL` once it answers, writes the port to --port-file, and
// stops its jobs and exits on SIGTERM or SIGINT.
'use strict';

const fs = require('fs');
const { Emulator, DEFAULTS } = require('./server');

const NUMERIC = new Set(['port', 'pageSize', 'stateDelayMs', 'logFlushMs', 'lroPolls', 'retryAfterS', 'tokenLifetimeS']);
const EXTRA = new Set(['blobEndpoint', 'portFile', 'exportsFile', 'tlsCert', 'tlsKey', 'workRoot', 'keepWork']);

function parse(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i += 1) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument '${argv[i]}'`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in DEFAULTS) && !EXTRA.has(key)) throw new Error(`unknown option '--${m[1]}'`);
    if (key === 'keepWork') { options.keepWork = true; continue; }
    const value = m[2] !== undefined ? m[2] : argv[++i];
    if (value === undefined) throw new Error(`option '--${m[1]}' needs a value`);
    options[key] = NUMERIC.has(key) ? Number(value) : value;
    if (NUMERIC.has(key) && !Number.isFinite(options[key])) throw new Error(`option '--${m[1]}' needs a number, got '${value}'`);
  }
  if (!options.blobEndpoint) throw new Error('--blob-endpoint (Azurite\'s account URL) is required');
  return options;
}

// The sh lines that point amlflow (and the Azure SDKs) at this emulator.
function envLines(emulator) {
  const o = emulator.options;
  const quote = (v) => `'${String(v).replace(/'/g, "'\\''")}'`;
  const lines = {
    AZURE_CLIENT_ID: o.clientId, AZURE_CLIENT_SECRET: o.clientSecret, AZURE_TENANT_ID: o.tenant,
    AZURE_AUTHORITY_HOST: emulator.baseUrl, AMLFLOW_ARM_ENDPOINT: emulator.baseUrl,
    AZURE_SUBSCRIPTION_ID: o.subscription, AZURE_RESOURCE_GROUP: o.resourceGroup, AZUREML_WORKSPACE: o.workspace,
    AMLFLOW_EMULATOR_CONTROL: `${emulator.baseUrl}/_emulator`, AMLFLOW_EMULATOR_BLOB: emulator.blobs.endpoint,
  };
  return Object.entries(lines).map(([k, v]) => `export ${k}=${quote(v)}\n`).join('');
}

async function main() {
  let options;
  try {
    options = parse(process.argv.slice(2));
  } catch (e) {
    console.error(`amlflow-azureml-emulator: ${e.message}`);
    process.exit(2);
  }
  const emulator = new Emulator(options);
  const port = await emulator.start();
  if (options.portFile) fs.writeFileSync(options.portFile, `${port}\n`);
  if (options.exportsFile) fs.writeFileSync(options.exportsFile, envLines(emulator));
  console.log(`amlflow-azureml-emulator: listening on ${emulator.baseUrl}`);
  const stop = async () => {
    await emulator.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(`amlflow-azureml-emulator: ${e.message}`);
  process.exit(1);
});
