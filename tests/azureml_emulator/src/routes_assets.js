// Resource-manager routes under the workspace for everything but jobs: the workspace itself,
// its datastores (and their secrets), computes (creation and deletion as long-running
// operations; node counts that follow the jobs on them and scale down after the cluster's
// idle time) and the versioned assets — code (with the `hash`/`hashVersion` query and
// startPendingUpload), environments and models (a model's files must be where its URI
// points), listed, read and deleted by container and version. Every PUT body passes the
// strict validator and the service's rules.
'use strict';

const crypto = require('crypto');
const { HttpError, validationError, notFound } = require('./errors');
const { validator } = require('./validator');
const { serviceRules } = require('./service_rules');
const { TERMINAL } = require('./job_runner');

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/;
const KINDS = {
  codes: { mapper: 'CodeVersion', type: 'codes', immutable: ['codeUri'] },
  environments: { mapper: 'EnvironmentVersion', type: 'environments', immutable: ['image', 'condaFile', 'build'] },
  models: { mapper: 'ModelVersion', type: 'models', immutable: ['modelUri', 'modelType'] },
};
const NEWER_API = '2023-04-01';

// Validates a PUT body; throws the service's 400 listing every problem.
function checkBody(kind, body, what) {
  const problems = validator().validate(body, kind);
  if (!problems.length) problems.push(...serviceRules(kind, body));
  if (problems.length) throw validationError(problems, what);
}

function checkName(name, what) {
  if (!NAME.test(name)) throw new HttpError(400, 'UserError', `${what} name '${name}' is invalid: it must match ${NAME.source}`, { inner: 'BadArgument' });
}

const route = (method, path, handle) => ({ method, path, handle });

function getWorkspace(emu) {
  return { status: 200, body: emu.workspace.resource() };
}

function listDatastores(emu, { url }) {
  let stores = emu.workspace.datastores();
  if (url.searchParams.get('isDefault') === 'true') stores = stores.filter((d) => d.properties.isDefault);
  return emu.page(stores, url);
}

function getDatastore(emu, { params: [name] }) {
  const store = emu.workspace.datastore(name);
  if (!store) throw notFound(`datastore '${name}'`);
  return { status: 200, body: store };
}

function datastoreSecrets(emu, { params: [name] }) {
  if (!emu.workspace.datastore(name)) throw notFound(`datastore '${name}'`);
  return { status: 200, body: { secretsType: 'AccountKey', key: emu.blobs.key } };
}

// ISO 8601 "PT1H30M5S" as milliseconds (0 for anything else).
function durationMs(text) {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(text || '');
  return m ? ((Number(m[1] || 0) * 60 + Number(m[2] || 0)) * 60 + Number(m[3] || 0)) * 1000 : 0;
}

// The jobs on a compute that have not ended (a sweep's trials and the sweep itself).
function activeJobsOn(emu, name) {
  const ws = emu.workspace;
  return [...ws.jobs.values()].filter((job) => !TERMINAL.has(job.status) &&
    ((ws.parseId(job.props.computeId, 'computes') || {}).name || '').toLowerCase() === name.toLowerCase());
}

// Nodes as the service counts them: busy ones for the command jobs running there; after the
// last job, the nodes it used stay idle for `nodeIdleTimeBeforeScaleDown`, then the cluster
// scales down to `minNodeCount`.
function nodeCounts(emu, name, compute) {
  const scale = ((compute.properties.properties || {}).scaleSettings) || {};
  const most = scale.maxNodeCount || 1;
  const busy = Math.min(most, activeJobsOn(emu, name).filter((j) => !j.sweep).reduce((n, j) => n + (j.nodes || 1), 0));
  let idle = 0;
  if (!busy) {
    const idleMs = durationMs(scale.nodeIdleTimeBeforeScaleDown || 'PT120S');
    const ws = emu.workspace;
    for (const job of ws.jobs.values()) {
      const on = ((ws.parseId(job.props.computeId, 'computes') || {}).name || '').toLowerCase() === name.toLowerCase();
      if (on && !job.sweep && job.endTimeUtc && Date.now() - Date.parse(job.endTimeUtc) < idleMs) idle = Math.max(idle, job.nodes || 1);
    }
  }
  idle = Math.max(Math.min(idle, most), (scale.minNodeCount || 0) - busy);
  return { current: busy + idle, busy, idle };
}

function computeBody(emu, name, compute) {
  const ws = emu.workspace;
  const nodes = nodeCounts(emu, name, compute);
  return {
    id: `${ws.id}/computes/${name}`, name, type: 'Microsoft.MachineLearningServices/workspaces/computes',
    location: compute.location, tags: compute.tags || {}, systemData: ws.systemData(compute.created),
    properties: {
      ...compute.properties, computeLocation: compute.location, provisioningState: compute.state,
      createdOn: compute.created, modifiedOn: compute.created, isAttachedCompute: false,
      disableLocalAuth: compute.properties.disableLocalAuth || false, provisioningErrors: null,
      properties: {
        osType: 'Linux', vmPriority: 'Dedicated', ...(compute.properties.properties || {}),
        allocationState: 'Steady', allocationStateTransitionTime: compute.created,
        currentNodeCount: nodes.current, targetNodeCount: nodes.current, errors: null,
        nodeStateCounts: { idleNodeCount: nodes.idle, runningNodeCount: nodes.busy, preparingNodeCount: 0, unusableNodeCount: 0, leavingNodeCount: 0, preemptedNodeCount: 0 },
      },
    },
  };
}

function putCompute(emu, { url, raw, params: [name] }) {
  checkName(name, 'compute');
  const body = emu.json(raw);
  checkBody('ComputeResource', body, `compute '${name}'`);
  const computes = emu.workspace.computes;
  const existing = computes.get(name);
  if (existing && existing.properties.computeType !== body.properties.computeType) {
    throw new HttpError(409, 'UserError', `compute '${name}' exists as ${existing.properties.computeType}; its type cannot change`, { inner: 'Conflict' });
  }
  const compute = existing || { created: new Date().toISOString(), state: 'Creating' };
  Object.assign(compute, { location: body.location, tags: body.tags, properties: body.properties });
  computes.set(name, compute);
  const polls = emu.options.lroPolls;
  const op = emu.operations.create('async', (o) => {
    if (compute.state === 'Creating' && o.polls > polls) compute.state = 'Succeeded';
    return compute.state === 'Creating' ? 'InProgress' : compute.state;
  }, url.searchParams.get('api-version'));
  // Provisioning ends on its own too, for a client that only reads the compute back.
  setTimeout(() => { if (compute.state === 'Creating') compute.state = 'Succeeded'; }, 3000).unref();
  const headers = { 'Azure-AsyncOperation': op.url, 'Retry-After': String(emu.options.retryAfterS) };
  return { status: existing ? 200 : 201, body: computeBody(emu, name, compute), headers };
}

function getCompute(emu, { params: [name] }) {
  const compute = emu.workspace.computes.get(name);
  if (!compute) throw notFound(`compute '${name}'`);
  return { status: 200, body: computeBody(emu, name, compute) };
}

// DELETE `computes/{name}?underlyingResourceAction=Delete|Detach`: a long-running operation
// (202 with `Azure-AsyncOperation` and `Location`), refused while jobs run on the compute.
function deleteCompute(emu, { url, params: [name] }) {
  const action = url.searchParams.get('underlyingResourceAction');
  if (!['Delete', 'Detach'].includes(action)) {
    throw new HttpError(400, 'UserError', `underlyingResourceAction must be 'Delete' or 'Detach', got '${action}'`, { inner: 'BadArgument' });
  }
  const computes = emu.workspace.computes;
  const compute = computes.get(name);
  if (!compute) throw notFound(`compute '${name}'`);
  const active = activeJobsOn(emu, name);
  if (active.length) {
    throw new HttpError(409, 'UserError', `compute '${name}' cannot be deleted while jobs run on it: ${active.map((j) => j.name).join(', ')}; cancel them or wait until they end`, { inner: 'Conflict' });
  }
  compute.state = 'Deleting';
  const polls = emu.options.lroPolls;
  const op = emu.operations.create('async', (o) => {
    if (compute.state === 'Deleting' && o.polls > polls) {
      computes.delete(name);
      compute.state = 'Deleted';
    }
    return compute.state === 'Deleting' ? 'InProgress' : 'Succeeded';
  }, url.searchParams.get('api-version'));
  // Deletion ends on its own too, for a client that does not poll.
  setTimeout(() => { if (compute.state === 'Deleting') { computes.delete(name); compute.state = 'Deleted'; } }, 3000).unref();
  const headers = { 'Azure-AsyncOperation': op.url, Location: op.url, 'Retry-After': String(emu.options.retryAfterS) };
  return { status: 202, headers };
}

function listComputes(emu, { url }) {
  return emu.page([...emu.workspace.computes.entries()].map(([n, c]) => computeBody(emu, n, c)), url);
}

function versionBody(emu, kind, name, version, record) {
  const ws = emu.workspace;
  const props = { description: null, tags: {}, properties: {}, isAnonymous: false, isArchived: false, ...record.properties };
  if (kind === 'environments') Object.assign(props, { environmentType: 'UserCreated', osType: props.osType || 'Linux', autoRebuild: props.autoRebuild || 'Disabled' });
  return { id: `${ws.id}/${kind}/${name}/versions/${version}`, name: version,
           type: `Microsoft.MachineLearningServices/workspaces/${kind}/versions`,
           systemData: ws.systemData(record.created, record.modified), properties: props };
}

// A model's files must be where its modelUri points, in a form the service resolves: a job's
// output (`azureml://jobs/<job>/outputs/<output>/paths/<p>`, the job known here) or a datastore
// path (`azureml://[subscriptions/<s>/resourcegroups/<g>/workspaces/<w>/]datastores/<ds>/paths/<p>`),
// holding a blob of that name or blobs below it. Anything else is the service's 400.
const MODEL_URI = [
  /^azureml:\/\/jobs\/[^/]+\/outputs\/[^/]+\/paths\/.+$/i,
  /^azureml:\/\/(?:subscriptions\/[^/]+\/resourcegroups\/[^/]+\/workspaces\/[^/]+\/)?datastores\/[^/]+\/paths\/.+$/i,
];

async function checkModelFiles(emu, props, what) {
  const uri = props.modelUri;
  const refuse = (message) => { throw validationError([{ target: 'properties.modelUri', message }], what); };
  if (!MODEL_URI.some((re) => re.test(uri))) {
    refuse(`'${uri}' is not a model path the service resolves (azureml://jobs/<job>/outputs/<output>/paths/<path> or azureml://datastores/<name>/paths/<path>)`);
  }
  const job = /^azureml:\/\/jobs\/([^/]+)\//i.exec(uri);
  if (job && !emu.workspace.jobs.has(job[1])) refuse(`the job '${job[1]}' of '${uri}' does not exist in the workspace`);
  if (props.jobName && !emu.workspace.jobs.has(props.jobName)) {
    throw validationError([{ target: 'properties.jobName', message: `the job '${props.jobName}' does not exist in the workspace` }], what);
  }
  const where = emu.workspace.resolveUri(uri);
  if (!where) refuse(`'${uri}' names no datastore of the workspace`);
  const names = await emu.blobs.list(where.container, where.prefix);
  if (!names.some((n) => n === where.prefix || n.startsWith(`${where.prefix}/`))) refuse(`no files are stored at '${uri}'`);
}

async function putVersion(emu, { raw, params: [kind, name, version] }) {
  const spec = KINDS[kind];
  checkName(name, kind);
  checkName(version, 'version');
  const body = emu.json(raw);
  checkBody(spec.mapper, body, `${kind} '${name}' version '${version}'`);
  if (kind === 'models') await checkModelFiles(emu, body.properties, `${kind} '${name}' version '${version}'`);
  const store = emu.workspace.assets[kind];
  if (!store.has(name)) store.set(name, new Map());
  const versions = store.get(name);
  const existing = versions.get(version);
  const props = body.properties;
  if (existing) {
    const changed = spec.immutable.filter((k) => JSON.stringify(existing.properties[k]) !== JSON.stringify(props[k]));
    if (changed.length) {
      throw new HttpError(409, 'UserError', `${kind} '${name}' version '${version}' already exists and its ${changed.join(', ')} cannot change; versions are immutable`, { inner: 'Conflict' });
    }
    existing.properties = { ...existing.properties, ...props };
    existing.modified = new Date().toISOString();
    return { status: 200, body: versionBody(emu, kind, name, version, existing) };
  }
  const record = { properties: props, created: new Date().toISOString() };
  record.modified = record.created;
  versions.set(version, record);
  return { status: 201, body: versionBody(emu, kind, name, version, record) };
}

function getVersion(emu, { params: [kind, name, version] }) {
  const record = (emu.workspace.assets[kind].get(name) || new Map()).get(version);
  if (!record) throw notFound(`${kind} '${name}' version '${version}'`);
  return { status: 200, body: versionBody(emu, kind, name, version, record) };
}

// Lists versions; for codes the `hash`/`hashVersion` query (api-version 2023-04-01 on) finds
// a snapshot by its content hash whatever the code's name.
function listVersions(emu, { url, params: [kind, name] }) {
  const hash = url.searchParams.get('hash');
  const store = emu.workspace.assets[kind];
  let items = [];
  if (hash !== null && kind === 'codes') {
    if (url.searchParams.get('api-version') < NEWER_API) {
      throw new HttpError(400, 'UserError', `the hash query needs api-version ${NEWER_API} or later`, { inner: 'BadArgument' });
    }
    const hv = url.searchParams.get('hashVersion');
    for (const [n, versions] of store) {
      for (const [v, rec] of versions) {
        const p = rec.properties.properties || {};
        if (p.hash_sha256 === hash && (!hv || p.hash_version === hv)) items.push(versionBody(emu, kind, n, v, rec));
      }
    }
  } else {
    const versions = store.get(name);
    if (!versions) return emu.page([], url);
    items = [...versions.entries()].map(([v, rec]) => versionBody(emu, kind, name, v, rec));
  }
  return emu.page(items, url);
}

// A container as the service answers it: created when its first version was, its latest
// version the highest number (versions named otherwise count below every number).
function containerBody(emu, kind, name, versions) {
  const rank = (v) => (/^\d+$/.test(v) ? Number(v) : -1);
  const keys = [...versions.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const latest = keys[keys.length - 1];
  const created = [...versions.values()].map((r) => r.created).sort()[0];
  const next = Math.max(0, ...keys.map(rank)) + 1;
  return { id: `${emu.workspace.id}/${kind}/${name}`, name, type: `Microsoft.MachineLearningServices/workspaces/${kind}`,
           systemData: emu.workspace.systemData(created),
           properties: { description: null, tags: {}, properties: {}, isArchived: false, latestVersion: latest || null, nextVersion: String(next) } };
}

function getContainer(emu, { params: [kind, name] }) {
  const versions = emu.workspace.assets[kind].get(name);
  if (!versions) throw notFound(`${kind} '${name}'`);
  return { status: 200, body: containerBody(emu, kind, name, versions) };
}

// GET `codes`, `environments` or `models`: every container of that kind, paged.
function listContainers(emu, { url, params: [kind] }) {
  const items = [...emu.workspace.assets[kind].entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([name, versions]) => containerBody(emu, kind, name, versions));
  return emu.page(items, url);
}

// DELETE of one version: 200, or 404 when there is none. The job that used it keeps running:
// its snapshot was taken when it started.
function deleteVersion(emu, { params: [kind, name, version] }) {
  const versions = emu.workspace.assets[kind].get(name);
  if (!versions || !versions.has(version)) throw notFound(`${kind} '${name}' version '${version}'`);
  versions.delete(version);
  return { status: 200 };
}

// DELETE of a container: refused while it still has versions (delete those first).
function deleteContainer(emu, { params: [kind, name] }) {
  const store = emu.workspace.assets[kind];
  const versions = store.get(name);
  if (!versions) throw notFound(`${kind} '${name}'`);
  if (versions.size) {
    throw new HttpError(409, 'UserError', `${kind} '${name}' still has ${versions.size} version(s); delete them first`, { inner: 'Conflict' });
  }
  store.delete(name);
  return { status: 200 };
}

function startPendingUpload(emu, { url, raw, params: [kind, name, version] }) {
  if (url.searchParams.get('api-version') < NEWER_API) {
    throw new HttpError(404, 'NotFound', `startPendingUpload needs api-version ${NEWER_API} or later`);
  }
  const body = emu.json(raw);
  const unknown = Object.keys(body).filter((k) => !['pendingUploadId', 'pendingUploadType'].includes(k));
  if (unknown.length || body.pendingUploadType !== 'TemporaryBlobReference') {
    throw new HttpError(400, 'UserError', `startPendingUpload takes {"pendingUploadType": "TemporaryBlobReference"}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`, { inner: 'BadArgument' });
  }
  const ws = emu.workspace;
  const id = body.pendingUploadId || crypto.randomUUID();
  const prefix = `LocalUpload/${crypto.randomBytes(16).toString('hex')}`;
  const blobUri = `${emu.blobs.endpoint}/${ws.defaultContainer}/${prefix}`;
  const containerSas = emu.blobs.containerSasUrl(ws.defaultContainer, 'racwl');
  const sas = containerSas.slice(containerSas.indexOf('?'));
  return { status: 200, body: {
    pendingUploadId: id, pendingUploadType: 'TemporaryBlobReference',
    blobReferenceForConsumption: {
      blobUri, storageAccountArmId: `/subscriptions/${ws.subscription}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${emu.blobs.account}`,
      credential: { credentialType: 'SAS', sasUri: `${blobUri}${sas}` },
    },
  } };
}

const ASSET = '(codes|environments|models)';
const assetRoutes = [
  route('GET', /^\/?$/, getWorkspace),
  route('GET', /^\/datastores$/, listDatastores),
  route('GET', /^\/datastores\/([^/]+)$/, getDatastore),
  route('POST', /^\/datastores\/([^/]+)\/listSecrets$/, datastoreSecrets),
  route('GET', /^\/computes$/, listComputes),
  route('PUT', /^\/computes\/([^/]+)$/, putCompute),
  route('GET', /^\/computes\/([^/]+)$/, getCompute),
  route('DELETE', /^\/computes\/([^/]+)$/, deleteCompute),
  route('GET', new RegExp(`^/${ASSET}$`), listContainers),
  route('GET', new RegExp(`^/${ASSET}/([^/]+)$`), getContainer),
  route('DELETE', new RegExp(`^/${ASSET}/([^/]+)$`), deleteContainer),
  route('GET', new RegExp(`^/${ASSET}/([^/]+)/versions$`), listVersions),
  route('PUT', new RegExp(`^/${ASSET}/([^/]+)/versions/([^/]+)$`), putVersion),
  route('GET', new RegExp(`^/${ASSET}/([^/]+)/versions/([^/]+)$`), getVersion),
  route('DELETE', new RegExp(`^/${ASSET}/([^/]+)/versions/([^/]+)$`), deleteVersion),
  route('POST', new RegExp(`^/(codes)/([^/]+)/versions/([^/]+)/startPendingUpload$`), startPendingUpload),
];

module.exports = { assetRoutes, checkBody, checkName };
