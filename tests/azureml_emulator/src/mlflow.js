// The MLflow tracking endpoints Azure ML serves for a workspace (NOTES "MLflow metrics"), as
// scripts reach them through MLFLOW_TRACKING_URI: POST runs/log-metric and runs/log-batch
// (what the MLflow client and amlflow's helper send), GET runs/get and metrics/get-history
// (what amlflow's backend reads a job's metrics with). The run id is the job's name. Under
// `/mlflow/v1.0{WS}` and `/mlflow/v2.0{WS}` (MLflow 2.x clients), each with `/api/2.0/mlflow/`.
// Bodies are checked as MLflow's server checks them (INVALID_PARAMETER_VALUE, 400).
// Every call needs a bearer token: one the token endpoint issued, or a job's MLFLOW_TRACKING_TOKEN.
'use strict';

const { HttpError } = require('./errors');

const MAX_BATCH_METRICS = 1000;
const MAX_BATCH_PARAMS = 100;

function invalid(message) {
  return new HttpError(400, 'INVALID_PARAMETER_VALUE', message);
}

class MlflowStore {
  constructor() {
    this.runs = new Map(); // run id -> {metrics: Map(key -> [{key, value, timestamp, step}]), params: Map}
  }

  run(id, create = true) {
    if (!this.runs.has(id) && create) this.runs.set(id, { metrics: new Map(), params: new Map() });
    return this.runs.get(id);
  }

  // The values of `key` reported for run `id`, in the order they arrived.
  series(id, key) {
    const run = this.runs.get(id);
    return (run && run.metrics.get(key)) || [];
  }

  addMetric(id, m, where) {
    if (typeof m.key !== 'string' || !m.key) throw invalid(`${where}: 'key' must be a non-empty string`);
    const value = typeof m.value === 'string' && ['NaN', 'Infinity', '-Infinity'].includes(m.value) ? Number(m.value) : m.value;
    if (typeof value !== 'number') throw invalid(`${where}: 'value' of metric '${m.key}' must be a number`);
    if (m.timestamp === undefined || !Number.isInteger(Number(m.timestamp))) throw invalid(`${where}: 'timestamp' (ms) is required`);
    const step = m.step === undefined ? 0 : Number(m.step);
    if (!Number.isInteger(step)) throw invalid(`${where}: 'step' must be an integer`);
    const metrics = this.run(id).metrics;
    if (!metrics.has(m.key)) metrics.set(m.key, []);
    metrics.get(m.key).push({ key: m.key, value, timestamp: Number(m.timestamp), step });
  }
}

const json = (v) => JSON.stringify(v, (k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));

function runIdOf(body, emu) {
  const id = body.run_id || body.run_uuid;
  if (typeof id !== 'string' || !id) throw invalid("'run_id' is required");
  if (!emu.workspace.jobs.has(id)) throw new HttpError(404, 'RESOURCE_DOES_NOT_EXIST', `Run '${id}' not found`);
  return id;
}

function logMetric(emu, raw) {
  const body = emu.json(raw);
  const id = runIdOf(body, emu);
  emu.mlflow.addMetric(id, body, 'log-metric');
  return { status: 200, body: {} };
}

function logBatch(emu, raw) {
  const body = emu.json(raw);
  const id = runIdOf(body, emu);
  const metrics = body.metrics || [];
  const params = body.params || [];
  if (!Array.isArray(metrics) || metrics.length > MAX_BATCH_METRICS) throw invalid(`log-batch takes at most ${MAX_BATCH_METRICS} metrics`);
  if (!Array.isArray(params) || params.length > MAX_BATCH_PARAMS) throw invalid(`log-batch takes at most ${MAX_BATCH_PARAMS} params`);
  metrics.forEach((m, i) => emu.mlflow.addMetric(id, m, `metrics[${i}]`));
  const run = emu.mlflow.run(id);
  params.forEach((p, i) => {
    if (typeof p.key !== 'string' || typeof p.value !== 'string') throw invalid(`params[${i}]: 'key' and 'value' must be strings`);
    run.params.set(p.key, p.value);
  });
  return { status: 200, body: {} };
}

function getRun(emu, url) {
  const id = url.searchParams.get('run_id') || url.searchParams.get('run_uuid');
  const job = id && emu.workspace.jobs.get(id);
  if (!job) throw new HttpError(404, 'RESOURCE_DOES_NOT_EXIST', `Run '${id}' not found`);
  const run = emu.mlflow.run(id);
  const latest = [...run.metrics.values()].map((values) => values[values.length - 1]);
  return { status: 200, body: json({ run: {
    info: { run_id: id, run_uuid: id, experiment_id: job.experimentId, status: job.status, lifecycle_stage: 'active' },
    data: { metrics: latest, params: [...run.params].map(([key, value]) => ({ key, value })), tags: [] },
  } }) };
}

function metricHistory(emu, url) {
  const id = url.searchParams.get('run_id') || url.searchParams.get('run_uuid');
  const key = url.searchParams.get('metric_key');
  if (!id || !key) throw invalid("'run_id' and 'metric_key' are required");
  if (!emu.workspace.jobs.has(id)) throw new HttpError(404, 'RESOURCE_DOES_NOT_EXIST', `Run '${id}' not found`);
  return { status: 200, body: json({ metrics: emu.mlflow.series(id, key) }) };
}

// Answers a request under /mlflow/, or throws the service's 404.
function mlflowRoutes(emu, req, url, raw) {
  const ws = emu.workspace.id.toLowerCase();
  const m = /^\/mlflow\/v[12]\.0(\/subscriptions\/.+?\/workspaces\/[^/]+)\/api\/2\.0\/mlflow\/(.+)$/i.exec(url.pathname);
  if (!m || m[1].toLowerCase() !== ws) throw new HttpError(404, 'ENDPOINT_NOT_FOUND', `no MLflow endpoint ${url.pathname}`);
  const call = `${req.method} ${m[2]}`;
  if (call === 'POST runs/log-metric') return logMetric(emu, raw);
  if (call === 'POST runs/log-batch') return logBatch(emu, raw);
  if (call === 'GET runs/get') return getRun(emu, url);
  if (call === 'GET metrics/get-history') return metricHistory(emu, url);
  throw new HttpError(404, 'ENDPOINT_NOT_FOUND', `no MLflow call ${call}`);
}

// The variables a job's processes get for MLflow, as Azure ML sets them (over http here).
function mlflowEnv(emu, job) {
  return {
    MLFLOW_TRACKING_URI: `${emu.baseUrl}/mlflow/v1.0${emu.workspace.id}`,
    MLFLOW_TRACKING_TOKEN: emu.tokens.issueInternal(),
    MLFLOW_RUN_ID: job.name,
    MLFLOW_EXPERIMENT_ID: job.experimentId,
    MLFLOW_EXPERIMENT_NAME: job.experimentName,
  };
}

module.exports = { MlflowStore, mlflowRoutes, mlflowEnv };
