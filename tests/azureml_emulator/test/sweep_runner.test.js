// Sweep jobs run for real by the emulator: the body checked strictly (mappers and the
// service's rules: Bayesian takes only choice/uniform/quniform and no policy), trials run as
// child command jobs `<sweep>_<N>` with `${{search_space.x}}` replaced, their metrics logged
// through the MLflow REST endpoints with the variables the emulator sets
// (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, MLFLOW_RUN_ID), a Bandit policy canceling a
// trial that falls behind, and run history naming the best trial.
'use strict';

require('./harness').requireDeps();
const test = require('node:test');
const assert = require('node:assert');
const { startAll, token, client, waitTerminal: waitJob } = require('./harness');

let all;
let call;
let bearer;

test.before(async () => {
  all = await startAll({ python: '/usr/bin/python3', retryAfterS: 0 });
  bearer = await token(all.emulator);
  call = client(all.emulator, bearer, '2024-04-01');
});
test.after(async () => { if (all) await all.stop(); });

// A trial that reports `acc` = x * (step + 1) for 6 steps through MLflow's REST API.
const TRIAL = [
  'import json, os, sys, time, urllib.request',
  'x = float(sys.argv[1])',
  'base = os.environ["MLFLOW_TRACKING_URI"]',
  'for step in range(6):',
  '    body = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": "acc", "value": x * (step + 1), "timestamp": int(time.time() * 1000), "step": step}',
  '    req = urllib.request.Request(base + "/api/2.0/mlflow/runs/log-metric", json.dumps(body).encode(), {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})',
  '    urllib.request.urlopen(req).read()',
  '    time.sleep(0.3 if x >= 1 else 0.8)',
  'print("done", x)',
].join('\n');

function sweep(extra = {}) {
  return { properties: {
    jobType: 'Sweep', experimentName: 'sweeps', computeId: undefined,
    searchSpace: { x: ['choice', [[0.1, 1, 2]]] },
    samplingAlgorithm: { samplingAlgorithmType: 'Grid' },
    objective: { primaryMetric: 'acc', goal: 'Maximize' },
    limits: { jobLimitsType: 'Sweep', maxTotalTrials: 3, maxConcurrentTrials: 3 },
    trial: { command: `python -c '${TRIAL.replace(/'/g, "'\\''")}' \${{search_space.x}}`, environmentId: 'azureml:AzureML-minimal@latest' },
    ...extra,
  } };
}

const waitTerminal = (name, limitMs) => waitJob(call, name, limitMs);

const history = async (rest) => (await fetch(`${all.base}/history/v1.0${all.emulator.workspace.id}${rest}`,
                                             { headers: { Authorization: `Bearer ${bearer}` } })).json();

test('a grid sweep with a Bandit policy: trials as child jobs, metrics over MLflow, the best trial named', async () => {
  const body = sweep({ earlyTermination: { policyType: 'Bandit', slackFactor: 0.2, evaluationInterval: 1, delayEvaluation: 1 } });
  delete body.properties.computeId;
  const put = await call('PUT', '/jobs/sweep_1', body);
  assert.strictEqual(put.status, 201, JSON.stringify(put.body));
  const done = await waitTerminal('sweep_1');
  assert.strictEqual(done.properties.status, 'Completed');
  const details = await history('/runs/sweep_1/details');
  assert.strictEqual(details.properties.best_child_run_id, 'sweep_1_2');
  assert.strictEqual(Number(details.properties.score), 12);
  const children = (await history('/experiments/sweeps/runs/sweep_1/children')).value;
  assert.deepStrictEqual(children.map((c) => c.runId), ['sweep_1_0', 'sweep_1_1', 'sweep_1_2']);
  assert.deepStrictEqual(children.map((c) => JSON.parse(c.properties.hyperparameters).x), [0.1, 1, 2]);
  // x = 0.1 falls outside the slack of the best at its second report: canceled by the policy.
  assert.strictEqual(children[0].status, 'Canceled');
  assert.strictEqual(children[0].properties.early_termination, 'Bandit');
  assert.strictEqual(children[2].status, 'Completed');
  const got = await fetch(`${all.base}/mlflow/v1.0${all.emulator.workspace.id}/api/2.0/mlflow/metrics/get-history?run_id=sweep_1_2&metric_key=acc`,
                          { headers: { Authorization: `Bearer ${bearer}` } });
  assert.deepStrictEqual((await got.json()).metrics.map((m) => m.value), [2, 4, 6, 8, 10, 12]);
  const log = await (await fetch(children[2].logFiles['user_logs/std_log.txt'])).text();
  assert.match(log, /done 2\.0\n/);
});

test('the service refuses Bayesian sampling with a policy or a loguniform space, and a bad goal', async () => {
  const bayes = sweep({ samplingAlgorithm: { samplingAlgorithmType: 'Bayesian' },
                        earlyTermination: { policyType: 'MedianStopping', evaluationInterval: 1 },
                        searchSpace: { x: ['loguniform', [-6, -1]] } });
  const res = await call('PUT', '/jobs/bayes_bad', bayes);
  assert.strictEqual(res.status, 400);
  const text = JSON.stringify(res.body);
  assert.match(text, /Bayesian sampling supports only choice, uniform, quniform/);
  assert.match(text, /does not support early termination/);
  const goal = await call('PUT', '/jobs/goal_bad', sweep({ objective: { primaryMetric: 'acc', goal: 'maximize' } }));
  assert.strictEqual(goal.status, 400);
  assert.match(JSON.stringify(goal.body), /not one of: Minimize, Maximize/);
  const unknown = await call('PUT', '/jobs/key_bad', sweep({ limits: { jobLimitsType: 'Sweep', maxTrials: 3 } }));
  assert.strictEqual(unknown.status, 400);
  const reference = sweep();
  reference.properties.trial.command = 'echo ${{search_space.y}}';
  assert.strictEqual((await call('PUT', '/jobs/ref_bad', reference)).status, 400);
});

test('MLflow log-batch and runs/get; a run that does not exist is 404', async () => {
  const base = `${all.base}/mlflow/v2.0${all.emulator.workspace.id}/api/2.0/mlflow`;
  const headers = { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' };
  const post = (path, body) => fetch(`${base}/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  assert.strictEqual((await post('runs/log-metric', { run_id: 'nope', key: 'a', value: 1, timestamp: 1 })).status, 404);
  assert.strictEqual((await post('runs/log-batch', { run_id: 'sweep_1_1', metrics: [{ key: 'loss', value: 'NaN', timestamp: 5, step: 0 }],
                                                    params: [{ key: 'lr', value: '0.1' }] })).status, 200);
  assert.strictEqual((await post('runs/log-batch', { run_id: 'sweep_1_1', metrics: [{ key: 'loss', value: 'high', timestamp: 5 }] })).status, 400);
  const run = await (await fetch(`${base}/runs/get?run_id=sweep_1_1`, { headers })).json();
  assert.deepStrictEqual(run.run.data.params, [{ key: 'lr', value: '0.1' }]);
  assert.ok(run.run.data.metrics.some((m) => m.key === 'loss' && m.value === 'NaN'));
  assert.strictEqual((await fetch(`${base}/runs/get?run_id=sweep_1_1`)).status, 401);
});
