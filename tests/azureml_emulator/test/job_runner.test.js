// Jobs run for real by the emulator, through its REST API with a real Azurite: code uploaded
// as a client does (startPendingUpload, blobs, code version with its hash), found again by the
// hash query; a tiny job printing and writing ./outputs; a 2-node × 2-process PyTorch job whose
// ranks join one torch.distributed group; an Mpi job doing an mpi4py all-reduce through one
// mpirun; log lines readable while the job runs; cancel; an injected job failure; inputs and
// outputs substituted; transient faults and the request log.
'use strict';

require('./harness').requireDeps();
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const { startAll, token, client, waitTerminal: waitJob } = require('./harness');

const PYTHON = '/usr/bin/python3';
let all;
let call;
let bearer;

test.before(async () => {
  all = await startAll({ python: PYTHON, retryAfterS: 0 });
  bearer = await token(all.emulator);
  call = client(all.emulator, bearer, '2024-04-01');
});
test.after(async () => { if (all) await all.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Uploads files {relpath: text} the way the Python SDK does and registers the code version.
async function uploadCode(name, files) {
  const hash = crypto.createHash('sha256').update(JSON.stringify(files)).digest('hex');
  const pending = await call('POST', `/codes/${name}/versions/1/startPendingUpload`, { pendingUploadType: 'TemporaryBlobReference' });
  assert.strictEqual(pending.status, 200, JSON.stringify(pending.body));
  const { blobUri, credential } = pending.body.blobReferenceForConsumption;
  const sas = credential.sasUri.slice(credential.sasUri.indexOf('?'));
  for (const [rel, text] of Object.entries(files)) {
    const res = await fetch(`${blobUri}/${rel}${sas}`, { method: 'PUT', body: text,
      headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2021-08-06' } });
    assert.strictEqual(res.status, 201, await res.text());
  }
  const put = await call('PUT', `/codes/${name}/versions/1`, { properties: { codeUri: blobUri, isAnonymous: true,
    properties: { hash_sha256: hash, hash_version: '202208' } } });
  assert.strictEqual(put.status, 201, JSON.stringify(put.body));
  return { id: put.body.id, hash };
}

const waitTerminal = (name, limitMs) => waitJob(call, name, limitMs);

async function details(name) {
  const res = await fetch(`${all.base}/history/v1.0${all.emulator.workspace.id}/runs/${name}/details`,
                          { headers: { Authorization: `Bearer ${bearer}` } });
  return res.json();
}

const logText = async (url) => (await fetch(url)).text();
const command = (cmd, extra = {}) => ({ properties: { jobType: 'Command', command: cmd, environmentId: 'azureml:AzureML-minimal@latest', ...extra } });

test('a tiny job prints, writes ./outputs, and its code is found again by hash', async () => {
  const code = await uploadCode('tiny', { 'main.py': 'import os, sys\nos.makedirs("outputs", exist_ok=True)\nopen("outputs/result.txt", "w").write("42\\n")\nprint("python is", sys.executable)\nprint("arg", sys.argv[1])\n' });
  const found = await call('GET', '/codes/any-name/versions', undefined, `&hash=${code.hash}&hashVersion=202208`);
  assert.deepStrictEqual(found.body.value.map((v) => v.id), [code.id]);
  const put = await call('PUT', '/jobs/tiny_1', command('python main.py ${{inputs.n}}', { codeId: code.id,
    inputs: { n: { jobInputType: 'literal', value: '7' } } }));
  assert.strictEqual(put.status, 201, JSON.stringify(put.body));
  const job = await waitTerminal('tiny_1');
  assert.strictEqual(job.properties.status, 'Completed');
  const walked = (await (await fetch(`${all.base}/_emulator/jobs`)).json()).jobs.find((j) => j.name === 'tiny_1').history.map((h) => h.status);
  assert.deepStrictEqual(walked, ['NotStarted', 'Queued', 'Preparing', 'Running', 'Finalizing', 'Completed']);
  const d = await details('tiny_1');
  const log = await logText(d.logFiles['user_logs/std_log.txt']);
  assert.match(log, /python is .*\/bin\/python\n/);
  assert.match(log, /arg 7\n/);
  const blobs = await all.emulator.blobs.list('azureml', 'ExperimentRun/dcid.tiny_1/outputs/');
  assert.deepStrictEqual(blobs, ['ExperimentRun/dcid.tiny_1/outputs/result.txt']);
});

test('the same PUT again is idempotent, a different one is a conflict', async () => {
  const body = command('echo once', { tags: { a: '1' } });
  assert.strictEqual((await call('PUT', '/jobs/idem', body)).status, 201);
  assert.strictEqual((await call('PUT', '/jobs/idem', body)).status, 200);
  const other = await call('PUT', '/jobs/idem', command('echo twice'));
  assert.strictEqual(other.status, 409);
  assert.strictEqual(other.body.error.code, 'UserError');
  const puts = all.emulator.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/jobs/idem'));
  assert.deepStrictEqual(puts.map((r) => r.status), [201, 200, 409]);
  await waitTerminal('idem');
});

test('2 nodes × 2 processes with PyTorch distribution form one torch.distributed group', async () => {
  const code = await uploadCode('ddp', { 'ddp.py': [
    'import os, torch, torch.distributed as dist',
    'dist.init_process_group("gloo")',
    't = torch.tensor([float(os.environ["RANK"])])',
    'dist.all_reduce(t)',
    'keys = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "AZUREML_RUN_ID", "AZ_BATCHAI_TASK_INDEX"]',
    'print(" ".join(f"{k}={os.environ[k]}" for k in keys), "sum", int(t.item()), flush=True)',
    'dist.destroy_process_group()', ''].join('\n') });
  const put = await call('PUT', '/jobs/ddp_1', command('python ddp.py', { codeId: code.id, resources: { instanceCount: 2 },
    distribution: { distributionType: 'PyTorch', processCountPerInstance: 2 } }));
  assert.strictEqual(put.status, 201, JSON.stringify(put.body));
  const job = await waitTerminal('ddp_1');
  const d = await details('ddp_1');
  assert.strictEqual(job.properties.status, 'Completed', JSON.stringify(d.error));
  assert.deepStrictEqual(Object.keys(d.logFiles).sort(), [0, 1, 2, 3].map((r) => `user_logs/std_log_process_${r}.txt`));
  for (let rank = 0; rank < 4; rank += 1) {
    const log = await logText(d.logFiles[`user_logs/std_log_process_${rank}.txt`]);
    const node = Math.floor(rank / 2);
    assert.match(log, new RegExp(`RANK=${rank} LOCAL_RANK=${rank % 2} WORLD_SIZE=4 NODE_RANK=${node} MASTER_ADDR=127.0.0.1 AZUREML_RUN_ID=ddp_1 AZ_BATCHAI_TASK_INDEX=${node} sum 6`));
  }
});

test('an Mpi job runs its ranks through one mpirun (mpi4py all-reduce)', async () => {
  const code = await uploadCode('mpi', { 'allreduce.py': 'from mpi4py import MPI\nimport os\nc = MPI.COMM_WORLD\nprint("rank", c.Get_rank(), "of", c.Get_size(), "sum", c.allreduce(c.Get_rank() + 1), "env", os.environ["OMPI_COMM_WORLD_RANK"], flush=True)\n' });
  await call('PUT', '/jobs/mpi_1', command('python allreduce.py', { codeId: code.id, resources: { instanceCount: 1 },
    distribution: { distributionType: 'Mpi', processCountPerInstance: 2 } }));
  const job = await waitTerminal('mpi_1');
  const d = await details('mpi_1');
  assert.strictEqual(job.properties.status, 'Completed', JSON.stringify(d.error));
  for (const rank of [0, 1]) {
    assert.match(await logText(d.logFiles[`user_logs/std_log_process_${rank}.txt`]), new RegExp(`rank ${rank} of 2 sum 3 env ${rank}`));
  }
});

test('log lines can be read while the job runs, and cancel kills it', async () => {
  await call('PUT', '/jobs/slow_1', command('for i in $(seq 1 300); do echo "tick $i"; sleep 0.1; done'));
  let seen = '';
  for (let i = 0; i < 200 && !/tick 3\n/.test(seen); i += 1) {
    const d = await details('slow_1');
    const url = d.logFiles['user_logs/std_log.txt'];
    if (url) seen = await logText(url);
    await sleep(100);
  }
  assert.match(seen, /tick 3\n/);
  const d = await details('slow_1');
  const ranged = await fetch(d.logFiles['user_logs/std_log.txt'], { headers: { Range: 'bytes=7-' } });
  assert.strictEqual(ranged.status, 206);
  assert.match(await ranged.text(), /^tick 2\n/);
  assert.strictEqual(d.status, 'Running');
  const cancel = await call('POST', '/jobs/slow_1/cancel');
  assert.strictEqual(cancel.status, 202);
  const location = cancel.headers.get('location');
  let poll;
  for (let i = 0; i < 100; i += 1) {
    poll = await fetch(location, { headers: { Authorization: `Bearer ${bearer}` } });
    if (poll.status === 200) break;
    await sleep(100);
  }
  assert.strictEqual(poll.status, 200);
  const job = await waitTerminal('slow_1');
  assert.strictEqual(job.properties.status, 'Canceled');
  const final = await logText((await details('slow_1')).logFiles['user_logs/std_log.txt']);
  assert.ok(!/tick 300/.test(final), 'the job was killed before it finished');
});

test('a failing job and an injected failure are Failed with the service error and the log tail', async () => {
  await call('PUT', '/jobs/fail_1', command('echo about to fail; python -c "raise SystemExit(3)"'));
  assert.strictEqual((await waitTerminal('fail_1')).properties.status, 'Failed');
  const d = await details('fail_1');
  assert.strictEqual(d.error.error.code, 'UserError');
  assert.match(d.error.error.message, /exited with status code 3.*about to fail/s);
  await fetch(`${all.base}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ failJobs: 1 }) });
  await call('PUT', '/jobs/fail_2', command('echo fine'));
  assert.strictEqual((await waitTerminal('fail_2')).properties.status, 'Failed');
  await call('PUT', '/jobs/fail_3', command('echo fine'));
  assert.strictEqual((await waitTerminal('fail_3')).properties.status, 'Completed');
});

test('inputs from a datastore and named outputs reach the command; outputs land on the datastore', async () => {
  const ws = all.emulator.workspace;
  await all.emulator.blobs.container(ws.defaultContainer).getBlockBlobClient('data/in/a.txt').upload('hello\n', 6);
  await call('PUT', '/jobs/io_1', command('cat ${{inputs.data}}/a.txt > ${{outputs.result}}/copy.txt; echo "$AZURE_ML_INPUT_data"', {
    inputs: { data: { jobInputType: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/data/in', mode: 'ReadOnlyMount' } },
    outputs: { result: { jobOutputType: 'uri_folder', mode: 'ReadWriteMount', uri: 'azureml://datastores/workspaceblobstore/paths/results/io' } } }));
  assert.strictEqual((await waitTerminal('io_1')).properties.status, 'Completed');
  const blob = await all.emulator.blobs.container(ws.defaultContainer).getBlobClient('results/io/copy.txt').downloadToBuffer();
  assert.strictEqual(blob.toString(), 'hello\n');
  const bad = await call('PUT', '/jobs/io_2', command('cat ${{inputs.missing}}'));
  assert.strictEqual(bad.status, 400);
  assert.match(bad.body.error.message, /inputs\.missing/);
});

test('faults: 429 with Retry-After, 503, a reset, an expired token; the request log sees them', async () => {
  const faults = [{ path: '/jobs/flaky$', method: 'PUT', status: 429, retryAfter: 3 }, { path: '/jobs/flaky$', method: 'PUT', status: 503 },
                  { path: '/jobs/flaky$', method: 'PUT', reset: true }, { path: '/jobs/flaky$', method: 'GET', expiredToken: true }];
  assert.strictEqual((await fetch(`${all.base}/_emulator/faults`, { method: 'POST', body: JSON.stringify(faults) })).status, 200);
  const body = command('echo flaky');
  const first = await call('PUT', '/jobs/flaky', body);
  assert.strictEqual(first.status, 429);
  assert.strictEqual(first.headers.get('retry-after'), '3');
  assert.strictEqual((await call('PUT', '/jobs/flaky', body)).status, 503);
  await assert.rejects(call('PUT', '/jobs/flaky', body));
  assert.strictEqual((await call('PUT', '/jobs/flaky', body)).status, 201);
  const expired = await call('GET', '/jobs/flaky');
  assert.strictEqual(expired.status, 401);
  assert.strictEqual(expired.body.error.code, 'ExpiredAuthenticationToken');
  const log = (await (await fetch(`${all.base}/_emulator/requests`)).json()).requests.filter((r) => r.path.endsWith('/jobs/flaky'));
  assert.deepStrictEqual(log.map((r) => `${r.method} ${r.status}`), ['PUT 429', 'PUT 503', 'PUT 0', 'PUT 201', 'GET 401']);
  assert.strictEqual(log.filter((r) => r.status === 201).length, 1, 'the job was created exactly once');
  await waitTerminal('flaky');
});

test('no token, a bad api-version, an unknown workspace get the service\'s answers', async () => {
  const ws = all.emulator.workspace.id;
  const none = await fetch(`${all.base}${ws}?api-version=2023-04-01`);
  assert.strictEqual(none.status, 401);
  assert.strictEqual((await none.json()).error.code, 'AuthenticationFailed');
  const noVersion = await fetch(`${all.base}${ws}`, { headers: { Authorization: `Bearer ${bearer}` } });
  assert.strictEqual((await noVersion.json()).error.code, 'MissingApiVersionParameter');
  const old = await call('GET', '/codes/x/versions', undefined, '&hash=ab&hashVersion=202208');
  assert.strictEqual(old.status, 200);
  const oldApi = client(all.emulator, bearer, '2022-10-01');
  assert.strictEqual((await oldApi('GET', '/codes/x/versions', undefined, '&hash=ab')).status, 400);
  const other = await call('GET', `${ws.replace(/amlflow-ws$/, 'nope')}`);
  assert.strictEqual(other.status, 404);
});
