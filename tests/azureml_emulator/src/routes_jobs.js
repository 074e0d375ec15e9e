// Jobs: PUT (validated, idempotent for the same body under the same client-chosen name, 409
// for a different one), GET, the paged list, POST cancel as a long-running operation; and
// the run-history data plane the SDK streams logs from (`details` with `logFiles` as SAS URLs,
// `rundata`). A created command job is handed to the job runner at once.
'use strict';

const { HttpError, validationError, notFound } = require('./errors');
const { checkBody } = require('./routes_assets');
const { unresolvedReferences } = require('./job_env');
const { TERMINAL } = require('./job_runner');

const JOB_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$/;
const MUTABLE = ['tags', 'description', 'displayName', 'isArchived'];
const CURATED = /^(azureml:[^/].*|azureml:\/\/registries\/.+)$/;

const canonical = (v) => JSON.stringify(v, (k, x) => (x && typeof x === 'object' && !Array.isArray(x)
  ? Object.fromEntries(Object.keys(x).sort().map((key) => [key, x[key]])) : x));

function immutablePart(props) {
  const rest = { ...props };
  for (const k of [...MUTABLE, 'status', 'services', 'parameters']) delete rest[k];
  return canonical(rest);
}

// The resources a job names must exist in the workspace (curated environments excepted).
function resolveReferences(emu, props) {
  const ws = emu.workspace;
  const problems = unresolvedReferences(props);
  const ref = (field, kind, wantVersion) => {
    const value = props[field];
    if (value === undefined || value === null) return null;
    const id = ws.parseId(value, kind);
    if (!id || (wantVersion && !id.version)) {
      problems.push({ target: `properties.${field}`, message: `'${value}' is not the ARM id of ${kind} in workspace '${ws.name}'` });
      return null;
    }
    return id;
  };
  if (!CURATED.test(props.environmentId || '')) {
    const env = ref('environmentId', 'environments', true);
    if (env && !(ws.assets.environments.get(env.name) || new Map()).has(env.version)) {
      problems.push({ target: 'properties.environmentId', message: `environment '${env.name}' version '${env.version}' does not exist` });
    }
  }
  let code = null;
  const codeId = ref('codeId', 'codes', true);
  if (codeId) {
    const rec = (ws.assets.codes.get(codeId.name) || new Map()).get(codeId.version);
    if (!rec) problems.push({ target: 'properties.codeId', message: `code '${codeId.name}' version '${codeId.version}' does not exist` });
    else {
      code = emu.blobs.parseUrl(rec.properties.codeUri || '');
      if (!code) problems.push({ target: 'properties.codeId', message: `the code version's codeUri '${rec.properties.codeUri}' is not in this workspace's storage` });
    }
  }
  const compute = ref('computeId', 'computes', false);
  if (compute && !ws.computes.has(compute.name)) {
    problems.push({ target: 'properties.computeId', message: `compute '${compute.name}' does not exist in workspace '${ws.name}'` });
  }
  if (problems.length) throw validationError(problems, 'the job');
  return { code };
}

function newJob(emu, name, props, code) {
  const ws = emu.workspace;
  const experimentName = props.experimentName || 'Default';
  const dist = props.distribution || null;
  const artifactPrefix = `ExperimentRun/dcid.${name}`;
  return {
    name, props, code, created: new Date().toISOString(), status: 'NotStarted',
    history: [{ status: 'NotStarted', time: new Date().toISOString() }],
    command: props.command, experimentName, experimentId: ws.experimentId(experimentName),
    nodes: (props.resources && props.resources.instanceCount) || 1,
    perNode: (dist && dist.processCountPerInstance) || 1,
    distributionType: dist ? dist.distributionType : null,
    environmentVariables: props.environmentVariables || {}, inputs: props.inputs || {},
    outputs: { ...(props.outputs || {}),
               default: { jobOutputType: 'uri_folder', mode: 'ReadWriteMount', uri: `azureml://datastores/workspaceartifactstore/${artifactPrefix}` } },
    timeout: props.limits && props.limits.timeout, artifactPrefix,
  };
}

function jobBody(emu, job) {
  const ws = emu.workspace;
  const o = emu.options;
  const studio = `https://ml.azure.com/runs/${job.name}?wsid=${ws.id}&tid=${o.tenant}`;
  return {
    id: `${ws.id}/jobs/${job.name}`, name: job.name, type: 'Microsoft.MachineLearningServices/workspaces/jobs',
    systemData: ws.systemData(job.created),
    properties: {
      description: null, tags: {}, properties: {}, displayName: job.name, isArchived: false,
      ...job.props, experimentName: job.experimentName, status: job.status, outputs: job.outputs, parameters: {},
      services: {
        Tracking: { jobServiceType: 'Tracking', endpoint: `azureml://${o.location}.api.azureml.ms/mlflow/v1.0${ws.id}?` },
        Studio: { jobServiceType: 'Studio', endpoint: studio },
      },
    },
  };
}

function putJob(emu, { raw, params: [name] }) {
  if (!JOB_NAME.test(name)) {
    throw new HttpError(400, 'UserError', `job name '${name}' is invalid: it must match ${JOB_NAME.source}`, { inner: 'BadArgument', target: 'name' });
  }
  const body = emu.json(raw);
  checkBody('JobBase', body, `job '${name}'`);
  const props = body.properties;
  if (props.jobType !== 'Command' && props.jobType !== 'Sweep') {
    throw new HttpError(501, 'NotImplemented', `the emulator validates ${props.jobType} jobs but runs only Command and Sweep jobs`);
  }
  const jobs = emu.workspace.jobs;
  const existing = jobs.get(name);
  if (existing) {
    if (immutablePart(existing.props) !== immutablePart(props)) {
      throw new HttpError(409, 'UserError', `a job named '${name}' already exists with a different definition; only ${MUTABLE.join(', ')} can change`, { inner: 'Conflict' });
    }
    for (const k of MUTABLE) if (props[k] !== undefined) existing.props[k] = props[k];
    return { status: 200, body: jobBody(emu, existing) };
  }
  if (props.jobType === 'Sweep') return putSweep(emu, name, props);
  const { code } = resolveReferences(emu, props);
  const job = newJob(emu, name, props, code);
  jobs.set(name, job);
  emu.runner.start(job);
  return { status: 201, body: jobBody(emu, job) };
}

// A sweep's trial names its code and environment as a command job would; its command may
// refer to the search space's names.
function putSweep(emu, name, props) {
  const trial = props.trial || {};
  if (!trial.command) throw validationError([{ target: 'properties.trial', message: 'a sweep job needs a trial with a command' }], 'the job');
  const view = { ...trial, computeId: props.computeId, inputs: props.inputs, outputs: props.outputs, searchSpace: props.searchSpace };
  const { code } = resolveReferences(emu, view);
  const job = newJob(emu, name, props, null);
  job.trialCode = code;
  emu.workspace.jobs.set(name, job);
  emu.sweeps.start(job);
  return { status: 201, body: jobBody(emu, job) };
}

function findJob(emu, name) {
  const job = emu.workspace.jobs.get(name);
  if (!job) throw notFound(`job '${name}'`);
  return job;
}

function getJob(emu, { params: [name] }) {
  return { status: 200, body: jobBody(emu, findJob(emu, name)) };
}

function listJobs(emu, { url }) {
  const jobs = [...emu.workspace.jobs.values()].reverse().map((j) => jobBody(emu, j));
  return emu.page(jobs, url);
}

function cancelJob(emu, { url, params: [name] }) {
  const job = findJob(emu, name);
  if (TERMINAL.has(job.status)) return { status: 200 };
  if (job.sweep) emu.sweeps.cancel(job);
  else emu.runner.cancel(job);
  const op = emu.operations.create('location', () => (TERMINAL.has(job.status) ? 'Succeeded' : 'InProgress'),
                                   url.searchParams.get('api-version'));
  return { status: 202, headers: { Location: op.url, 'Retry-After': String(emu.options.retryAfterS) } };
}

const route = (method, path, handle) => ({ method, path, handle });
const jobRoutes = [
  route('GET', /^\/jobs$/, listJobs),
  route('PUT', /^\/jobs\/([^/]+)$/, putJob),
  route('GET', /^\/jobs\/([^/]+)$/, getJob),
  route('POST', /^\/jobs\/([^/]+)\/cancel$/, cancelJob),
];

// Run history's view of a job: status, times, the service's error, and every log blob the
// job has so far as a read-only SAS URL.
function runDetails(emu, job) {
  const ws = emu.workspace;
  const logFiles = {};
  for (const name of job.shipper ? job.shipper.names() : []) {
    logFiles[name] = emu.blobs.blobSasUrl(ws.artifactContainer, `${job.artifactPrefix}/${name}`, 'r');
  }
  const details = {
    runId: job.name, runUuid: job.experimentId, status: job.status, target: (job.props.computeId || '').split('/').pop() || null,
    startTimeUtc: job.startTimeUtc || null, endTimeUtc: job.endTimeUtc || null, warnings: [],
    properties: {}, inputDatasets: [], outputDatasets: [], runDefinition: {}, logFiles,
    statusHistory: job.history,
  };
  if (job.error) details.error = { error: job.error, time: job.endTimeUtc };
  // HyperDrive's parent run names its best trial; a trial its sampled values and the policy
  // that ended it, if one did.
  if (job.best) Object.assign(details.properties, { best_child_run_id: job.best.name, score: String(job.best.score) });
  if (job.sweep) details.properties.primary_metric_config = JSON.stringify({ name: job.props.objective.primaryMetric, goal: job.props.objective.goal });
  if (job.hyperparameters) details.properties.hyperparameters = JSON.stringify(job.hyperparameters);
  if (job.parent) details.parentRunId = job.parent;
  if (job.earlyTerminated) details.properties.early_termination = job.earlyTerminated;
  return details;
}

function historyRoutes(emu, req, url, raw) {
  const ws = emu.workspace;
  const prefix = `/history/v1.0${ws.id}`.toLowerCase();
  const p = url.pathname;
  if (!p.toLowerCase().startsWith(prefix)) throw new HttpError(404, 'NotFound', `no such workspace in run history: ${p}`);
  const rest = p.slice(prefix.length);
  const details = /^\/(?:experiments\/[^/]+\/|experimentids\/[^/]+\/)?runs\/([^/]+)(\/details)?$/.exec(rest);
  const children = /^\/(?:experiments\/[^/]+\/|experimentids\/[^/]+\/)?runs\/([^/]+)\/children$/.exec(rest);
  if (children && req.method === 'GET') {
    const job = findJob(emu, decodeURIComponent(children[1]));
    const kids = job.sweep ? job.sweep.children.map((c) => runDetails(emu, c)) : [];
    return { status: 200, body: { value: kids, continuationToken: null } };
  }
  if (details && req.method === 'GET') {
    const job = findJob(emu, decodeURIComponent(details[1]));
    return { status: 200, body: details[2] ? runDetails(emu, job) : { runId: job.name, status: job.status } };
  }
  if (rest === '/rundata' && req.method === 'POST') {
    const body = emu.json(raw);
    const job = findJob(emu, body.runId);
    const outputs = {};
    for (const [n, out] of Object.entries(job.outputs)) outputs[n] = { assetId: out.uri || `azureml://jobs/${job.name}/outputs/${n}`, type: out.jobOutputType };
    return { status: 200, body: { runMetadata: { ...runDetails(emu, job), outputs } } };
  }
  throw new HttpError(404, 'NotFound', `no such run-history call: ${req.method} ${rest}`);
}

module.exports = { jobRoutes, historyRoutes, newJob };
