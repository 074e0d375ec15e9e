// Microsoft's own JavaScript SDK (`@azure/arm-machinelearning`) as the client of the
// emulator, over TLS (its bearer-token policy refuses plain http) with a token from the
// emulator's client-credentials endpoint: a compute created through its poller ends in
// Succeeded, a command job is created and read back, jobs are listed through the paged
// iterator across several pages, a running job is canceled through its poller. Also the
// refusals: a bad secret, an expired token, a body the SDK would send with an unknown key.
'use strict';

require('./harness').requireDeps();
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { AzureMachineLearningWorkspaces } = require('@azure/arm-machinelearning');
const { startAll } = require('./harness');

function selfSigned() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
                           '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { dir, key, cert, ca: fs.readFileSync(cert, 'utf8') };
}

// A TokenCredential that asks the emulator's token endpoint, as azure-identity's
// ClientSecretCredential asks Azure AD.
function credential(emulator, ca, secret) {
  const https = require('https');
  const o = emulator.options;
  return {
    getToken: (scopes) => new Promise((resolve, reject) => {
      const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: o.clientId,
                                         client_secret: secret || o.clientSecret, scope: [].concat(scopes).join(' ') }).toString();
      const req = https.request(`${emulator.baseUrl}/${o.tenant}/oauth2/v2.0/token`, { method: 'POST', ca,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(form) } }, (res) => {
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          const body = JSON.parse(text);
          if (res.statusCode !== 200) return reject(new Error(body.error_description));
          resolve({ token: body.access_token, expiresOnTimestamp: Date.now() + body.expires_in * 1000 });
        });
      });
      req.on('error', reject);
      req.end(form);
    }),
  };
}

test('the official JS SDK drives computes and jobs on the emulator', async (t) => {
  const tls = selfSigned();
  const all = await startAll({ tlsCert: tls.cert, tlsKey: tls.key, pageSize: 2, retryAfterS: 0 });
  t.after(async () => { await all.stop(); fs.rmSync(tls.dir, { recursive: true, force: true }); });
  const { emulator } = all;
  const o = emulator.options;
  const clientOptions = { endpoint: emulator.baseUrl, credentialScopes: 'https://management.azure.com/.default',
                          tlsOptions: { ca: tls.ca }, retryOptions: { maxRetries: 0 } };
  const sdk = new AzureMachineLearningWorkspaces(credential(emulator, tls.ca), o.subscription, clientOptions);

  const poller = await sdk.computeOperations.beginCreateOrUpdate(o.resourceGroup, o.workspace, 'cpu-cluster', {
    location: 'eastus',
    properties: { computeType: 'AmlCompute', properties: { vmSize: 'STANDARD_D2_V2', vmPriority: 'Dedicated',
                                                           scaleSettings: { minNodeCount: 0, maxNodeCount: 2 } } },
  }, { updateIntervalInMs: 10 });
  const compute = await poller.pollUntilDone();
  assert.strictEqual(compute.properties.provisioningState, 'Succeeded');
  assert.strictEqual(compute.properties.computeType, 'AmlCompute');
  const polls = emulator.requests.filter((r) => r.path.includes('/computeOperationsStatus/'));
  assert.ok(polls.length >= 2, 'the poller followed Azure-AsyncOperation');

  const computeId = `${emulator.workspace.id}/computes/cpu-cluster`;
  const job = (command) => ({ properties: { jobType: 'Command', command, computeId,
                                            environmentId: 'azureml:AzureML-minimal@latest', experimentName: 'sdk' } });
  const created = await sdk.jobs.createOrUpdate(o.resourceGroup, o.workspace, 'sdk-job-1', job('echo hello'));
  assert.strictEqual(created.name, 'sdk-job-1');
  assert.strictEqual(created.properties.jobType, 'Command');
  for (let i = 2; i <= 4; i += 1) await sdk.jobs.createOrUpdate(o.resourceGroup, o.workspace, `sdk-job-${i}`, job('echo hi'));
  const long = await sdk.jobs.createOrUpdate(o.resourceGroup, o.workspace, 'sdk-long', job('sleep 60'));
  assert.strictEqual(long.properties.command, 'sleep 60');

  const names = [];
  for await (const item of sdk.jobs.list(o.resourceGroup, o.workspace)) names.push(item.name);
  assert.deepStrictEqual(names.sort(), ['sdk-job-1', 'sdk-job-2', 'sdk-job-3', 'sdk-job-4', 'sdk-long']);
  const listCalls = emulator.requests.filter((r) => /\/jobs$/.test(r.path) && r.method === 'GET');
  assert.strictEqual(listCalls.length, 3, 'five jobs in pages of two: the iterator followed nextLink twice');

  while ((await sdk.jobs.get(o.resourceGroup, o.workspace, 'sdk-long')).properties.status !== 'Running') {
    await new Promise((r) => setTimeout(r, 50));
  }
  // A compute with a job on it: its nodes are counted busy, and its deletion is refused.
  const busy = await sdk.computeOperations.get(o.resourceGroup, o.workspace, 'cpu-cluster');
  assert.ok(busy.properties.properties.currentNodeCount >= 1);
  assert.ok(busy.properties.properties.nodeStateCounts.runningNodeCount >= 1);
  await assert.rejects(sdk.computeOperations.beginDeleteAndWait(o.resourceGroup, o.workspace, 'cpu-cluster', 'Delete', { updateIntervalInMs: 10 }),
                       (e) => e.statusCode === 409 && /sdk-long/.test(e.message));
  const cancel = await sdk.jobs.beginCancel(o.resourceGroup, o.workspace, 'sdk-long', { updateIntervalInMs: 10 });
  await cancel.pollUntilDone();
  assert.strictEqual((await sdk.jobs.get(o.resourceGroup, o.workspace, 'sdk-long')).properties.status, 'Canceled');
  // Once the jobs ended, the SDK's delete poller follows the operation to its end.
  const before = emulator.requests.filter((r) => r.path.includes('/computeOperationsStatus/')).length;
  await sdk.computeOperations.beginDeleteAndWait(o.resourceGroup, o.workspace, 'cpu-cluster', 'Delete', { updateIntervalInMs: 10 });
  assert.ok(emulator.requests.filter((r) => r.path.includes('/computeOperationsStatus/')).length > before, 'the delete was polled');
  await assert.rejects(sdk.computeOperations.get(o.resourceGroup, o.workspace, 'cpu-cluster'), (e) => e.statusCode === 404);

  // Assets listed by container and deleted by version, then container.
  await sdk.environmentVersions.createOrUpdate(o.resourceGroup, o.workspace, 'env-a', '1', { properties: { image: 'python:3.11' } });
  await sdk.environmentVersions.createOrUpdate(o.resourceGroup, o.workspace, 'env-b', '1', { properties: { image: 'python:3.11' } });
  const containers = [];
  for await (const item of sdk.environmentContainers.list(o.resourceGroup, o.workspace)) containers.push(item.name);
  assert.deepStrictEqual(containers.sort(), ['env-a', 'env-b']);
  await assert.rejects(sdk.environmentContainers.delete(o.resourceGroup, o.workspace, 'env-a'), (e) => e.statusCode === 409);
  await sdk.environmentVersions.delete(o.resourceGroup, o.workspace, 'env-a', '1');
  await sdk.environmentContainers.delete(o.resourceGroup, o.workspace, 'env-a');
  await assert.rejects(sdk.environmentVersions.get(o.resourceGroup, o.workspace, 'env-a', '1'), (e) => e.statusCode === 404);
  const models = [];
  for await (const item of sdk.modelContainers.list(o.resourceGroup, o.workspace)) models.push(item.name);
  assert.deepStrictEqual(models, []);
  assert.strictEqual((await sdk.jobs.get(o.resourceGroup, o.workspace, 'sdk-job-1')).properties.status !== undefined, true);

  // What the SDK's serializer lets through but the service refuses comes back as the
  // service's 400 shape, which the SDK reads into its RestError.
  await assert.rejects(sdk.jobs.createOrUpdate(o.resourceGroup, o.workspace, 'sdk-bad', {
    properties: { jobType: 'Command', command: 'echo', environmentId: 'azureml:x@latest',
                  distribution: { distributionType: 'PyTorch', processCountPerInstance: 0 } },
  }), (e) => e.statusCode === 400 && e.code === 'UserError' && /processCountPerInstance/.test(e.message));
  // The SDK 2.1.1 cannot send a uri_folder input: its mappers leave the asset inputs'
  // discriminator out, so its serializer drops `uri` and `mode`; the emulator says so.
  await assert.rejects(sdk.jobs.createOrUpdate(o.resourceGroup, o.workspace, 'sdk-input', {
    properties: { jobType: 'Command', command: 'echo', environmentId: 'azureml:x@latest',
                  inputs: { data: { jobInputType: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/d' } } },
  }), (e) => e.statusCode === 400 && /properties\.inputs\.data\.uri: the required property 'uri' is missing/.test(e.message));

  const wrong = new AzureMachineLearningWorkspaces(credential(emulator, tls.ca, 'not-the-secret'), o.subscription, clientOptions);
  await assert.rejects(wrong.jobs.get(o.resourceGroup, o.workspace, 'sdk-job-1'), /AADSTS7000215: Invalid client secret/);

  emulator.tokens.expireAll();
  await assert.rejects(sdk.jobs.get(o.resourceGroup, o.workspace, 'sdk-job-1'),
                       (e) => e.statusCode === 401 && e.code === 'ExpiredAuthenticationToken');
});

test('models through the official JS SDK: files where the URI points, versions and models listed', async (t) => {
  const tls = selfSigned();
  const all = await startAll({ tlsCert: tls.cert, tlsKey: tls.key, pageSize: 2, retryAfterS: 0 });
  t.after(async () => { await all.stop(); fs.rmSync(tls.dir, { recursive: true, force: true }); });
  const { emulator } = all;
  const o = emulator.options;
  const sdk = new AzureMachineLearningWorkspaces(credential(emulator, tls.ca), o.subscription, {
    endpoint: emulator.baseUrl, credentialScopes: 'https://management.azure.com/.default',
    tlsOptions: { ca: tls.ca }, retryOptions: { maxRetries: 0 } });
  const ws = emulator.workspace;
  await emulator.blobs.container(ws.defaultContainer).getBlockBlobClient('models/a/model.pt').upload('w', 1);
  const put = (name, version, modelUri, extra = {}) => sdk.modelVersions.createOrUpdate(
    o.resourceGroup, o.workspace, name, version, { properties: { modelUri, modelType: 'custom_model', ...extra } });
  const file = 'azureml://datastores/workspaceblobstore/paths/models/a/model.pt';
  const v1 = await put('birds', '1', file, { tags: { k: 'v' } });
  assert.strictEqual(v1.properties.modelUri, file);
  assert.deepStrictEqual(v1.properties.tags, { k: 'v' });
  await put('birds', '2', `azureml://subscriptions/${o.subscription}/resourcegroups/${o.resourceGroup}/workspaces/${o.workspace}/datastores/workspaceblobstore/paths/models/a`);
  for (const name of ['cats', 'dogs']) await put(name, '1', file);

  // Refused as the service refuses them: nothing stored there, a form it does not resolve,
  // a job it does not have.
  const refused = (uri, pattern) => assert.rejects(put('birds', '3', uri),
                                                    (e) => e.statusCode === 400 && pattern.test(e.message));
  await refused('azureml://datastores/workspaceblobstore/paths/models/a/missing.pt', /no files are stored/);
  await refused('azureml://datastores/workspaceblobstore/paths/models/a/model', /no files are stored/);
  await refused('runs:/abc/model', /not a model path the service resolves/);
  await refused('azureml://jobs/no-such-job/outputs/artifacts/paths/outputs/m.pt', /job 'no-such-job'.*does not exist/);
  await assert.rejects(put('birds', '1', `${file}x`), (e) => e.statusCode === 400);

  // The paged iterators: models by name with their latest version, a model's versions.
  const models = [];
  for await (const c of sdk.modelContainers.list(o.resourceGroup, o.workspace)) models.push([c.name, c.properties.latestVersion]);
  assert.deepStrictEqual(models, [['birds', '2'], ['cats', '1'], ['dogs', '1']]);
  const pages = emulator.requests.filter((r) => /\/models$/.test(r.path) && r.method === 'GET');
  assert.strictEqual(pages.length, 2, 'three models in pages of two');
  const versions = [];
  for await (const v of sdk.modelVersions.list(o.resourceGroup, o.workspace, 'birds')) versions.push(v.name);
  assert.deepStrictEqual(versions.sort(), ['1', '2']);
  const container = await sdk.modelContainers.get(o.resourceGroup, o.workspace, 'birds');
  assert.strictEqual(container.properties.nextVersion, '3');
});
