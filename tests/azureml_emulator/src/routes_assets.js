// Resource-manager routes under the workspace for everything but jobs: the workspace itself,
// its datastores (and their secrets), computes (creation as a long-running operation) and
// the versioned assets — code (with the `hash`/`hashVersion` query and startPendingUpload),
// environments and models (a model's files must be where its URI points). Every PUT body
// passes the strict validator and the service's rules.
'use strict';

const crypto = require('crypto');
const { HttpError, validationError, notFound } = require('./errors');
const { validator } = require('./validator');
const { serviceRules } = require('./service_rules');

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

function computeBody(emu, name, compute) {
  const ws = emu.workspace;
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
        currentNodeCount: 0, targetNodeCount: 0, errors: null,
        nodeStateCounts: { idleNodeCount: 0, runningNodeCount: 0, preparingNodeCount: 0, unusableNodeCount: 0, leavingNodeCount: 0, preemptedNodeCount: 0 },
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
           properties: { description: null, tags: {}, properties: {}, isArchived: false, latestVersion: latest, nextVersion: String(next) } };
}

function getContainer(emu, { params: [kind, name] }) {
  const versions = emu.workspace.assets[kind].get(name);
  if (!versions) throw notFound(`${kind} '${name}'`);
  return { status: 200, body: containerBody(emu, kind, name, versions) };
}

function listContainers(emu, { url, params: [kind] }) {
  const items = [...emu.workspace.assets[kind].entries()].filter(([, versions]) => versions.size > 0)
    .sort(([a], [b]) => a.localeCompare(b)).map(([name, versions]) => containerBody(emu, kind, name, versions));
  return emu.page(items, url);
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
  route('GET', new RegExp(`^/${ASSET}$`), listContainers),
  route('GET', new RegExp(`^/${ASSET}/([^/]+)$`), getContainer),
  route('GET', new RegExp(`^/${ASSET}/([^/]+)/versions$`), listVersions),
  route('PUT', new RegExp(`^/${ASSET}/([^/]+)/versions/([^/]+)$`), putVersion),
  route('GET', new RegExp(`^/${ASSET}/([^/]+)/versions/([^/]+)$`), getVersion),
  route('POST', new RegExp(`^/(codes)/([^/]+)/versions/([^/]+)/startPendingUpload$`), startPendingUpload),
];

module.exports = { assetRoutes, checkBody, checkName };
