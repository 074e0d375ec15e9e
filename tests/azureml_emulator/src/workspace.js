// One workspace the emulator keeps in memory: its ARM ids, its two blob datastores on
// Azurite (the default `workspaceblobstore` and the `workspaceartifactstore` that holds job
// artifacts and logs), the resources clients create, and how `azureml://` URIs map to blobs.
'use strict';

const crypto = require('crypto');

const PROVIDER = 'Microsoft.MachineLearningServices';

class Workspace {
  constructor({ subscription, resourceGroup, name, location = 'eastus', blobs, baseUrl, tenant }) {
    Object.assign(this, { subscription, resourceGroup, name, location, blobs, baseUrl, tenant });
    this.workspaceId = crypto.randomUUID();
    this.id = `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/${PROVIDER}/workspaces/${name}`;
    this.defaultContainer = `azureml-blobstore-${this.workspaceId}`;
    this.artifactContainer = 'azureml';
    this.computes = new Map();
    this.assets = { codes: new Map(), environments: new Map(), models: new Map() };
    this.jobs = new Map();
    this.experiments = new Map(); // name -> id
    this.created = new Date().toISOString();
  }

  async init() {
    await this.blobs.ensureContainer(this.defaultContainer);
    await this.blobs.ensureContainer(this.artifactContainer);
  }

  systemData(created = this.created, modified = created) {
    return { createdAt: created, createdBy: 'amlflow-emulator', createdByType: 'Application',
             lastModifiedAt: modified, lastModifiedBy: 'amlflow-emulator', lastModifiedByType: 'Application' };
  }

  experimentId(name) {
    if (!this.experiments.has(name)) this.experiments.set(name, crypto.randomUUID());
    return this.experiments.get(name);
  }

  // The blob account URL as Azure builds it from a datastore: {protocol}://{account}.blob.{endpoint}.
  storageEndpoint() {
    const url = new URL(this.blobs.endpoint);
    return { protocol: url.protocol.replace(':', ''), endpoint: `localhost:${url.port}` };
  }

  resource() {
    const storageAccount = `/subscriptions/${this.subscription}/resourceGroups/${this.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${this.blobs.account}`;
    return {
      id: this.id, name: this.name, type: `${PROVIDER}/workspaces`, location: this.location,
      identity: { type: 'SystemAssigned', principalId: crypto.createHash('md5').update(this.id).digest('hex').replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5'), tenantId: this.tenant },
      sku: { name: 'Basic', tier: 'Basic' },
      systemData: this.systemData(),
      properties: {
        friendlyName: this.name, workspaceId: this.workspaceId, provisioningState: 'Succeeded',
        storageAccount, discoveryUrl: `${this.baseUrl}/discovery`,
        mlFlowTrackingUri: `azureml://${this.location}.api.azureml.ms/mlflow/v1.0${this.id}`,
        keyVault: `/subscriptions/${this.subscription}/resourceGroups/${this.resourceGroup}/providers/Microsoft.KeyVault/vaults/emulatorkv`,
        applicationInsights: `/subscriptions/${this.subscription}/resourceGroups/${this.resourceGroup}/providers/Microsoft.insights/components/emulatorai`,
        hbiWorkspace: false, v1LegacyMode: false, publicNetworkAccess: 'Enabled', tenantId: this.tenant,
      },
    };
  }

  datastores() {
    const { protocol, endpoint } = this.storageEndpoint();
    const make = (name, container, isDefault) => ({
      id: `${this.id}/datastores/${name}`, name, type: `${PROVIDER}/workspaces/datastores`,
      systemData: this.systemData(),
      properties: {
        datastoreType: 'AzureBlob', accountName: this.blobs.account, containerName: container,
        endpoint, protocol, isDefault, serviceDataAccessAuthIdentity: 'None',
        credentials: { credentialsType: 'AccountKey' }, description: null, properties: {}, tags: {},
      },
    });
    return [make('workspaceblobstore', this.defaultContainer, true), make('workspaceartifactstore', this.artifactContainer, false)];
  }

  datastore(name) {
    return this.datastores().find((d) => d.name === name) || null;
  }

  // An `azureml://` or blob URL as {container, prefix} on Azurite; null when it names
  // nothing the emulator holds.
  resolveUri(uri) {
    if (typeof uri !== 'string') return null;
    const ds = /^azureml:\/\/(?:subscriptions\/[^/]+\/resourcegroups\/[^/]+\/workspaces\/[^/]+\/)?datastores\/([^/]+)\/paths\/?(.*)$/i.exec(uri);
    if (ds) {
      const store = this.datastore(ds[1]);
      return store ? { container: store.properties.containerName, prefix: ds[2].replace(/\/+$/, '') } : null;
    }
    const job = /^azureml:\/\/jobs\/([^/]+)\/outputs\/([^/]+)(?:\/paths\/?(.*))?$/i.exec(uri);
    if (job) {
      const [, name, output, rest = ''] = job;
      const record = this.jobs.get(name);
      if (output === 'artifacts' || output === 'default') {
        return { container: this.artifactContainer, prefix: `ExperimentRun/dcid.${name}/${rest}`.replace(/\/+$/, '') };
      }
      if (!record) return null;
      const where = this.outputLocation(output, (record.outputs || {})[output] || {}, record);
      return where && { container: where.container, prefix: [where.prefix, rest].filter(Boolean).join('/') };
    }
    return this.blobs.parseUrl(uri);
  }

  // Where a job's named output lives: its `uri`, else the service's default path.
  outputLocation(name, output, job) {
    if (output && output.uri) return this.resolveUri(output.uri);
    return { container: this.defaultContainer, prefix: `azureml/${job.name}/${name}` };
  }

  // Parses an ARM id of this workspace's resource: {kind, name, version}; null otherwise.
  parseId(id, kind) {
    if (typeof id !== 'string') return null;
    const prefix = `${this.id}/${kind}/`.toLowerCase();
    if (!id.toLowerCase().startsWith(prefix)) return null;
    const [name, versions, version] = id.slice(prefix.length).split('/');
    return { name, version: versions === 'versions' ? version : undefined };
  }
}

module.exports = { Workspace, PROVIDER };
