// The emulator's HTTP server: the token endpoint, discovery, the resource manager's
// workspace paths (a live bearer token and a supported `api-version` required on each), the
// operation-status URLs of its long-running operations, run history, and the control API
// under /_emulator (faults, the log of requests received, token expiry). Faults act before
// anything else, so a client sees them exactly where it would see the real ones.
'use strict';

const http = require('http');
const https = require('https');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { HttpError } = require('./errors');
const { Tokens } = require('./auth');
const { Faults, faultError } = require('./faults');
const { Blobs } = require('./blob');
const { Workspace } = require('./workspace');
const { JobRunner } = require('./job_runner');
const { Operations } = require('./operations');
const { assetRoutes } = require('./routes_assets');
const { jobRoutes, historyRoutes } = require('./routes_jobs');
const { controlRoutes } = require('./routes_control');
const { MlflowStore, mlflowRoutes, mlflowEnv } = require('./mlflow');
const { SweepRunner } = require('./sweep_runner');

const MIN_API = '2022-10-01';
const API_PATTERN = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

const DEFAULTS = {
  host: '127.0.0.1', port: 0, tenant: '72f988bf-0000-4000-8000-00000000e001',
  clientId: 'amlflow-emulator-client', clientSecret: 'amlflow-emulator-secret',
  subscription: '00000000-0000-4000-8000-0000000a41f0', resourceGroup: 'amlflow-rg', workspace: 'amlflow-ws',
  location: 'eastus', python: '/usr/bin/python3', pageSize: 20, stateDelayMs: 150, logFlushMs: 200,
  lroPolls: 2, retryAfterS: 1, tokenLifetimeS: 3599,
};

class Emulator {
  constructor(options) {
    this.options = { ...DEFAULTS, ...options };
    const o = this.options;
    this.tokens = new Tokens({ tenant: o.tenant, clientId: o.clientId, clientSecret: o.clientSecret, lifetimeS: o.tokenLifetimeS });
    this.faults = new Faults();
    this.requests = [];
    this.blobs = new Blobs({ endpoint: o.blobEndpoint });
    this.operations = new Operations(this);
    this.mlflow = new MlflowStore();
    this.routes = [...assetRoutes, ...jobRoutes];
  }

  async start() {
    const o = this.options;
    const handler = (req, res) => this.handle(req, res);
    this.server = o.tlsCert ? https.createServer({ cert: fs.readFileSync(o.tlsCert), key: fs.readFileSync(o.tlsKey) }, handler)
                            : http.createServer(handler);
    this.sockets = new Set();
    this.server.on('connection', (s) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(o.port, o.host, resolve);
    });
    this.port = this.server.address().port;
    this.baseUrl = `${o.tlsCert ? 'https' : 'http'}://${o.host}:${this.port}`;
    this.tokens.acceptResource(this.baseUrl);
    this.ownWorkRoot = !o.workRoot;
    this.workRoot = o.workRoot || await fs.promises.mkdtemp(path.join(os.tmpdir(), 'amlflow-emulator-jobs-'));
    this.workspace = new Workspace({ subscription: o.subscription, resourceGroup: o.resourceGroup, name: o.workspace,
                                     location: o.location, blobs: this.blobs, baseUrl: this.baseUrl, tenant: o.tenant });
    await this.workspace.init();
    this.runner = new JobRunner({ blobs: this.blobs, python: o.python, workRoot: this.workRoot, faults: this.faults,
                                  storage: this.workspace, subscription: o.subscription, resourceGroup: o.resourceGroup,
                                  workspace: o.workspace, stateDelayMs: o.stateDelayMs, logFlushMs: o.logFlushMs,
                                  keepWork: o.keepWork, mlflowEnv: (job) => mlflowEnv(this, job) });
    this.sweeps = new SweepRunner(this);
    return this.port;
  }

  async stop() {
    for (const job of this.workspace ? this.workspace.jobs.values() : []) {
      if (job.run) this.runner.kill(job, 'cancel');
      if (job.sweep) this.sweeps.stop(job);
    }
    if (!this.server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
    if (this.ownWorkRoot && !this.options.keepWork) await fs.promises.rm(this.workRoot, { recursive: true, force: true });
  }

  record(req, url, status, fault) {
    this.requests.push({ method: req.method, path: url.pathname, apiVersion: url.searchParams.get('api-version'),
                         status, fault: fault || undefined, time: new Date().toISOString() });
  }

  async handle(req, res) {
    const url = new URL(req.url, this.baseUrl);
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const raw = Buffer.concat(chunks).toString('utf8');
    const rule = this.faults.take(req.method, url.pathname);
    if (rule && rule.reset) {
      this.record(req, url, 0, 'reset');
      req.socket.destroy();
      return;
    }
    if (rule && rule.delayMs) await new Promise((r) => setTimeout(r, rule.delayMs));
    let answer;
    try {
      if (rule && rule.status) throw faultError(rule);
      answer = await this.dispatch(req, url, raw, rule);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, 'InternalServerError', `emulator: ${e.stack || e.message}`);
      answer = { status: err.status, body: err.body(), headers: err.headers };
    }
    this.record(req, url, answer.status, rule && Object.keys(rule).find((k) => ['status', 'delayMs', 'expiredToken'].includes(k)));
    const headers = { 'x-ms-request-id': require('crypto').randomUUID(), ...(answer.headers || {}) };
    if (answer.body !== undefined) {
      const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      headers['Content-Type'] = headers['Content-Type'] || 'application/json; charset=utf-8';
      res.writeHead(answer.status, headers);
      res.end(text);
    } else {
      res.writeHead(answer.status, { ...headers, 'Content-Length': '0' });
      res.end();
    }
  }

  async dispatch(req, url, raw, rule) {
    const p = url.pathname;
    if (p.startsWith('/_emulator/')) return controlRoutes(this, req, url, raw);
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(p);
    if (token) {
      if (req.method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', 'the token endpoint takes POST');
      return this.tokens.issue(decodeURIComponent(token[1]), new URLSearchParams(raw));
    }
    if (p === '/discovery' && req.method === 'GET') {
      const b = this.baseUrl;
      return { status: 200, body: { api: b, catalog: b, experimentation: b, gallery: b, history: b, hyperdrive: b,
                                    labeling: b, modelmanagement: b, pipelines: b, studio: 'https://ml.azure.com' } };
    }
    this.tokens.check(req, Boolean(rule && rule.expiredToken));
    if (p.startsWith('/history/')) return historyRoutes(this, req, url, raw);
    if (p.startsWith('/mlflow/')) return mlflowRoutes(this, req, url, raw);
    this.checkApiVersion(url);
    const op = this.operations.match(p);
    if (op) return this.operations.answer(op, req, url);
    return this.armRoute(req, url, raw);
  }

  checkApiVersion(url) {
    const v = url.searchParams.get('api-version');
    if (!v) throw new HttpError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    if (!API_PATTERN.test(v) || v.slice(0, 10) < MIN_API) {
      throw new HttpError(400, 'InvalidApiVersionParameter',
                          `The api-version '${v}' is invalid. The supported versions are '${MIN_API}' and later (YYYY-MM-DD or YYYY-MM-DD-preview).`);
    }
  }

  armRoute(req, url, raw) {
    const ws = this.workspace;
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)(\/.*)?$/i.exec(url.pathname);
    if (!m) throw new HttpError(404, 'NotFound', `no resource-manager path here: ${url.pathname}`);
    const [, sub, rg, name, rest = ''] = m.map((x) => (x === undefined ? x : decodeURIComponent(x)));
    if (sub !== ws.subscription) throw new HttpError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
    if (rg.toLowerCase() !== ws.resourceGroup.toLowerCase()) throw new HttpError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
    if (name.toLowerCase() !== ws.name.toLowerCase()) {
      throw new HttpError(404, 'ResourceNotFound', `The Resource 'Microsoft.MachineLearningServices/workspaces/${name}' under resource group '${rg}' was not found.`);
    }
    for (const route of this.routes) {
      if (route.method !== req.method) continue;
      const match = route.path.exec(rest);
      if (match) return route.handle(this, { req, url, raw, params: match.slice(1).map(decodeURIComponent) });
    }
    const known = this.routes.some((r) => r.path.test(rest));
    if (known) throw new HttpError(405, 'MethodNotAllowed', `${req.method} is not supported on ${url.pathname}`);
    throw new HttpError(404, 'NotFound', `no such resource type: ${rest || '/'}`);
  }

  // The body of a PUT/POST as JSON, or the service's 400.
  json(raw) {
    if (!raw.trim()) throw new HttpError(400, 'UserError', 'the request body is empty', { inner: 'BadArgument' });
    try {
      return JSON.parse(raw);
    } catch (e) {
      throw new HttpError(400, 'UserError', `the request body is not valid JSON: ${e.message}`, { inner: 'BadArgument' });
    }
  }

  // Pages a list as the service does: `value` and, while more remain, an absolute `nextLink`.
  page(items, url) {
    const size = this.options.pageSize;
    const skip = Number(Buffer.from(url.searchParams.get('$skipToken') || '', 'base64url').toString() || 0) || 0;
    const body = { value: items.slice(skip, skip + size) };
    if (skip + size < items.length) {
      const next = new URL(url.pathname, this.baseUrl);
      for (const [k, v] of url.searchParams) if (k !== '$skipToken') next.searchParams.set(k, v);
      next.searchParams.set('$skipToken', Buffer.from(String(skip + size)).toString('base64url'));
      body.nextLink = next.toString();
    }
    return { status: 200, body };
  }
}

module.exports = { Emulator, DEFAULTS };
