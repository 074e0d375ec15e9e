// Starts what a test needs on free loopback ports: a real Azurite (blob only, in memory) as
// a child process, and the emulator in this process. `stop()` ends both. Tests that cannot
// find node_modules exit 77 so ctest counts them as skipped.
'use strict';

const path = require('path');
const { spawn } = require('child_process');

const ROOT = path.resolve(__dirname, '..');

function requireDeps() {
  try {
    require.resolve('@azure/arm-machinelearning', { paths: [ROOT] });
    require.resolve('azurite/package.json', { paths: [ROOT] });
  } catch {
    console.error(`skipped: ${ROOT}/node_modules is missing (run scripts/install-node-deps.sh)`);
    process.exit(77);
  }
}

// Resolves with {endpoint, stop} once Azurite says it listens; fails after 30 s.
function startAzurite() {
  const bin = path.join(ROOT, 'node_modules', '.bin', 'azurite-blob');
  const child = spawn(bin, ['--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--extentMemoryLimit', '256',
                            '--disableTelemetry', '--skipApiVersionCheck', '--silent', '--loose'],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  // Never leave Azurite behind, even when a test ends the process early.
  const reap = () => { if (child.exitCode === null) child.kill('SIGKILL'); };
  process.on('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error(`azurite did not start in 30 s: ${out}`)); }, 30000);
    const onData = (chunk) => {
      out += chunk;
      const m = /successfully listens on (http:\/\/[^\s]+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const stop = () => new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      });
      resolve({ endpoint: `${m[1].replace(/\/$/, '')}/devstoreaccount1`, stop, child });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`azurite exited (${code}): ${out}`)); });
  });
}

// Azurite and an emulator on top of it; options go to the Emulator.
async function startAll(options = {}) {
  const { Emulator } = require('../src/server');
  const azurite = await startAzurite();
  const emulator = new Emulator({ blobEndpoint: azurite.endpoint, stateDelayMs: 50, ...options });
  await emulator.start();
  return { azurite, emulator, base: emulator.baseUrl,
           stop: async () => { await emulator.stop(); await azurite.stop(); } };
}

// A client-credentials token from the emulator, as an application would get one.
async function token(emulator) {
  const o = emulator.options;
  const res = await fetch(`${emulator.baseUrl}/${o.tenant}/oauth2/v2.0/token`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: o.clientId, client_secret: o.clientSecret,
                                scope: 'https://management.azure.com/.default' }).toString(),
  });
  return (await res.json()).access_token;
}

// A small REST client of the emulator: call('PUT', '/jobs/x', body) under the workspace.
function client(emulator, bearer, apiVersion = '2023-04-01') {
  const ws = emulator.workspace.id;
  return async (method, rel, body, query = '') => {
    const url = rel.startsWith('http') ? rel : `${emulator.baseUrl}${rel.startsWith('/subscriptions') ? '' : ws}${rel}?api-version=${apiVersion}${query}`;
    const res = await fetch(url, { method, headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
                                   body: body === undefined || body === '' ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
}

// Polls a job through `call` (client()'s) until the service's state is terminal; its body.
async function waitTerminal(call, name, limitMs = 120000) {
  const end = Date.now() + limitMs;
  for (;;) {
    const job = await call('GET', `/jobs/${name}`);
    if (['Completed', 'Failed', 'Canceled'].includes(job.body.properties.status)) return job.body;
    if (Date.now() > end) throw new Error(`job ${name} still ${job.body.properties.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

module.exports = { ROOT, requireDeps, startAzurite, startAll, token, client, waitTerminal };
