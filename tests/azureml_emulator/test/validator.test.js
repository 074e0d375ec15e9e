// The strict validator against Microsoft's mappers (src/validator.js) and the service's own
// rules (src/service_rules.js): what conforms passes, and each way a body can break the
// contract is refused with the path of the offending key.
'use strict';

require('./harness').requireDeps();
const test = require('node:test');
const assert = require('node:assert');
const { validator, splitName } = require('../src/validator');
const { serviceRules } = require('../src/service_rules');

const WS = '/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w';
const commandJob = () => ({
  properties: {
    jobType: 'Command', command: 'python train.py --epochs 30 --output_dir ./outputs',
    environmentId: `${WS}/environments/torch/versions/3`, codeId: `${WS}/codes/c/versions/1`,
    computeId: `${WS}/computes/gpu-cluster`, experimentName: 'pytorch_birds', displayName: 'train',
    distribution: { distributionType: 'PyTorch', processCountPerInstance: 2 }, resources: { instanceCount: 2 },
    environmentVariables: { K: 'V' }, limits: { jobLimitsType: 'Command', timeout: 'PT2H' },
    inputs: { data: { jobInputType: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/d', mode: 'Download' },
              epochs: { jobInputType: 'literal', value: '30' } },
    outputs: { model: { jobOutputType: 'uri_folder', mode: 'ReadWriteMount' } },
    tags: { 'amlflow.run': 'r1' },
  },
});
const targets = (errors) => errors.map((e) => e.target).sort();
const check = (body, kind) => validator().validate(body, kind);

test('the command job of NOTES conforms', () => {
  assert.deepStrictEqual(check(commandJob(), 'JobBase'), []);
  assert.deepStrictEqual(serviceRules('JobBase', commandJob()), []);
});

test('a job with no code, compute or resources conforms', () => {
  const body = { properties: { jobType: 'Command', command: 'echo hi', environmentId: 'azureml:AzureML-minimal@latest' } };
  assert.deepStrictEqual(check(body, 'JobBase'), []);
});

test('an unknown key is refused at any depth, where the SDK would drop it', () => {
  const body = commandJob();
  body.properties.comand = 'typo';
  body.properties.distribution.nodes = 2;
  body.properties.inputs.data.path = 'x';
  body.extra = true;
  assert.deepStrictEqual(targets(check(body, 'JobBase')),
                         ['extra', 'properties.comand', 'properties.distribution.nodes', 'properties.inputs.data.path']);
});

test('wrong types and missing required properties are refused', () => {
  const body = commandJob();
  delete body.properties.command;
  body.properties.resources.instanceCount = '2';
  body.properties.environmentVariables.N = 3;
  body.properties.limits.timeout = '2 hours';
  body.properties.tags = ['a'];
  const errors = check(body, 'JobBase');
  assert.deepStrictEqual(targets(errors), ['properties.command', 'properties.environmentVariables.N',
                                           'properties.limits.timeout', 'properties.resources.instanceCount', 'properties.tags']);
  assert.match(errors.find((e) => e.target === 'properties.command').message, /required property 'command' is missing/);
});

test('discriminators pick the subtype, and an unknown one is refused with the choices', () => {
  const mpi = commandJob();
  mpi.properties.distribution = { distributionType: 'Mpi', processCountPerInstance: 4 };
  assert.deepStrictEqual(check(mpi, 'JobBase'), []);
  const tf = commandJob();
  tf.properties.distribution = { distributionType: 'TensorFlow', processCountPerInstance: 4 };
  assert.deepStrictEqual(targets(check(tf, 'JobBase')), ['properties.distribution.processCountPerInstance']);
  const bad = commandJob();
  bad.properties.distribution.distributionType = 'Horovod';
  bad.properties.jobType = 'Command';
  bad.properties.inputs.data.jobInputType = 'folder';
  const errors = check(bad, 'JobBase');
  assert.match(errors[0].message, /expected one of: Mpi, PyTorch, TensorFlow/);
  assert.match(errors[1].message, /uri_folder/);
  assert.match(check({ properties: { jobType: 'Spark' } }, 'JobBase')[0].message, /Command.*Sweep|Sweep.*Command/s);
});

test('a concrete subtype takes only its own tag (command limits are not sweep limits)', () => {
  const body = commandJob();
  body.properties.limits = { jobLimitsType: 'Sweep', maxTotalTrials: 3 };
  assert.match(check(body, 'JobBase')[0].message, /expected one of: Command/);
});

test('a compute, an environment, a code and a model version as clients send them', () => {
  const compute = { location: 'eastus', properties: { computeType: 'AmlCompute', properties: {
    vmSize: 'STANDARD_NC6', vmPriority: 'Dedicated', scaleSettings: { minNodeCount: 0, maxNodeCount: 4, nodeIdleTimeBeforeScaleDown: 'PT30M' } } } };
  assert.deepStrictEqual(check(compute, 'ComputeResource'), []);
  compute.properties.properties.scaleSettings.maxNodes = 4;
  compute.properties.computeType = 'AmlCompute';
  assert.deepStrictEqual(targets(check(compute, 'ComputeResource')), ['properties.properties.scaleSettings.maxNodes']);
  assert.deepStrictEqual(check({ properties: { image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04', condaFile: 'name: x\n' } }, 'EnvironmentVersion'), []);
  assert.deepStrictEqual(check({ properties: { codeUri: 'https://a.blob.core.windows.net/c/LocalUpload/h/src', isAnonymous: true,
                                               properties: { hash_sha256: 'ab', hash_version: '202208' } } }, 'CodeVersion'), []);
  assert.deepStrictEqual(check({ properties: { modelUri: 'azureml://jobs/j/outputs/artifacts/paths/outputs/model.pt', modelType: 'custom_model' } }, 'ModelVersion'), []);
  assert.deepStrictEqual(targets(check({ properties: { codeUri: 5 } }, 'CodeVersion')), ['properties.codeUri']);
});

test('flattened serialized names are checked inside their object', () => {
  assert.deepStrictEqual(splitName('properties.friendlyName'), ['properties', 'friendlyName']);
  assert.deepStrictEqual(splitName('odata\\.type'), ['odata.type']);
  assert.deepStrictEqual(check({ location: 'eastus', properties: { friendlyName: 'w' } }, 'Workspace'), []);
  assert.deepStrictEqual(targets(check({ location: 'eastus', properties: { friendlyNam: 'w' } }, 'Workspace')), ['properties.friendlyNam']);
});

test('patterns and bounds of the mappers hold', () => {
  const body = commandJob();
  body.properties.command = '!!!';
  assert.match(check(body, 'JobBase')[0].message, /does not match the pattern/);
});

test('service rules: delivery modes, counts, environments, conda files, search spaces', () => {
  const job = commandJob();
  job.properties.inputs.data.mode = 'Mount';
  job.properties.distribution.processCountPerInstance = 0;
  assert.deepStrictEqual(targets(serviceRules('JobBase', job)), ['properties.distribution.processCountPerInstance', 'properties.inputs.data.mode']);
  assert.match(serviceRules('EnvironmentVersion', { properties: {} })[0].message, /exactly one of image and build/);
  const conda = (text) => serviceRules('EnvironmentVersion', { properties: { image: 'i', condaFile: text } });
  assert.deepStrictEqual(conda('name: t\nchannels: [conda-forge]\ndependencies:\n  - python=3.10\n  - pip:\n    - torch==2.1\n'), []);
  assert.match(conda('dependencies: numpy\n')[0].message, /must be a list/);
  assert.match(conda('name: [unclosed\n')[0].message, /not valid YAML/);
  assert.match(conda('name: t\npackages: [a]\n')[0].message, /unknown key 'packages'/);
  assert.match(conda('dependencies:\n  - {conda: [a]}\n')[0].message, /wrong shape/);
  const sweep = (space) => serviceRules('JobBase', { properties: { jobType: 'Sweep', searchSpace: space, trial: {}, objective: { primaryMetric: 'acc', goal: 'Maximize' } } });
  assert.deepStrictEqual(sweep({ lr: ['loguniform', [-6, -1]], batch: ['choice', [[16, 32]]], q: ['quniform', [0, 10, 2]] }), []);
  assert.match(sweep({ lr: ['uniform', [0]] })[0].message, /uniform takes 2/);
  assert.match(sweep({ lr: { min: 0 } })[0].message, /\[type, \[arguments\]\]/);
  assert.match(sweep({ b: ['choice', [16, 32]] })[0].message, /choice takes one non-empty list/);
  assert.match(sweep({ 'bad-name': ['randint', [3]] })[0].message, /not a valid search space name/);
});
