// What the service refuses beyond the mappers: string properties that are enums in the REST
// spec (the SDK's `Known*` values: a delivery mode, a VM priority), an environment that is
// neither an image nor a build, a conda file that is not a conda environment YAML, a sweep
// search space not in the REST `[type, [args]]` form, process and node counts below one.
// Each check returns {target, message} entries like the validator's.
'use strict';

const YAML = require('yaml');
const sdk = require('@azure/arm-machinelearning');

const values = (known) => Object.values(known);
const ENUMS = {
  'inputs.*.mode': values(sdk.KnownInputDeliveryMode),
  'outputs.*.mode': values(sdk.KnownOutputDeliveryMode),
};
const SEARCH_SPACE_KEY = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Expression name → how many numeric arguments it takes (`choice` takes one list).
const SEARCH_EXPRESSIONS = {
  choice: null, randint: 1, uniform: 2, loguniform: 2, normal: 2, lognormal: 2,
  quniform: 3, qloguniform: 3, qnormal: 3, qlognormal: 3,
};
const CONDA_KEYS = new Set(['name', 'channels', 'dependencies', 'prefix', 'variables']);

function enumCheck(value, allowed, target, errors) {
  if (value !== undefined && value !== null && !allowed.includes(value)) {
    errors.push({ target, message: `'${value}' is not one of: ${allowed.join(', ')}` });
  }
}

function positiveInteger(value, target, errors) {
  if (value !== undefined && value !== null && !(Number.isInteger(value) && value >= 1)) {
    errors.push({ target, message: `must be a whole number of at least 1, got ${JSON.stringify(value)}` });
  }
}

function searchSpace(space, target, errors) {
  for (const [name, expr] of Object.entries(space || {})) {
    const where = `${target}.${name}`;
    if (!SEARCH_SPACE_KEY.test(name)) {
      errors.push({ target: where, message: `'${name}' is not a valid search space name (${SEARCH_SPACE_KEY.source})` });
    }
    if (!Array.isArray(expr) || expr.length !== 2 || typeof expr[0] !== 'string' || !Array.isArray(expr[1])) {
      errors.push({ target: where, message: 'expected [type, [arguments]] such as ["uniform", [0.0, 1.0]]' });
      continue;
    }
    const [kind, args] = expr;
    if (!(kind in SEARCH_EXPRESSIONS)) {
      errors.push({ target: where, message: `'${kind}' is not a search space type; expected one of: ${Object.keys(SEARCH_EXPRESSIONS).join(', ')}` });
    } else if (kind === 'choice') {
      if (args.length !== 1 || !Array.isArray(args[0]) || args[0].length === 0) {
        errors.push({ target: where, message: 'choice takes one non-empty list: ["choice", [[v1, v2]]]' });
      }
    } else if (args.length !== SEARCH_EXPRESSIONS[kind] || !args.every((a) => typeof a === 'number')) {
      errors.push({ target: where, message: `${kind} takes ${SEARCH_EXPRESSIONS[kind]} number(s), got ${JSON.stringify(args)}` });
    }
  }
}

function condaFile(text, target, errors) {
  let doc;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    errors.push({ target, message: `the conda file is not valid YAML: ${e.message.split('\n')[0]}` });
    return;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    errors.push({ target, message: 'the conda file must be a YAML mapping with name, channels and dependencies' });
    return;
  }
  for (const key of Object.keys(doc)) {
    if (!CONDA_KEYS.has(key)) errors.push({ target, message: `the conda file has an unknown key '${key}'` });
  }
  if (doc.channels !== undefined && !(Array.isArray(doc.channels) && doc.channels.every((c) => typeof c === 'string'))) {
    errors.push({ target, message: "the conda file's 'channels' must be a list of names" });
  }
  const deps = doc.dependencies;
  if (deps === undefined) return;
  if (!Array.isArray(deps)) {
    errors.push({ target, message: "the conda file's 'dependencies' must be a list" });
    return;
  }
  for (const dep of deps) {
    const pip = dep && typeof dep === 'object' && !Array.isArray(dep) && Object.keys(dep).length === 1 && Array.isArray(dep.pip);
    if (typeof dep === 'string' || (pip && dep.pip.every((p) => typeof p === 'string'))) continue;
    errors.push({ target, message: `the conda file has a dependency of the wrong shape: ${JSON.stringify(dep)} (a string, or {pip: [strings]})` });
  }
}

function jobRules(props, errors) {
  const where = (k) => `properties.${k}`;
  for (const side of ['inputs', 'outputs']) {
    for (const [name, io] of Object.entries(props[side] || {})) {
      if (io && typeof io === 'object') enumCheck(io.mode, ENUMS[`${side}.*.mode`], `${where(side)}.${name}.mode`, errors);
    }
  }
  const trial = props.jobType === 'Sweep' ? props.trial || {} : props;
  positiveInteger(trial.resources && trial.resources.instanceCount, where('resources.instanceCount'), errors);
  const dist = trial.distribution;
  if (dist && dist.distributionType !== 'TensorFlow') {
    positiveInteger(dist.processCountPerInstance, where('distribution.processCountPerInstance'), errors);
  }
  if (props.jobType === 'Sweep') {
    searchSpace(props.searchSpace, where('searchSpace'), errors);
    sweepRules(props, errors);
  }
}

// What the service's sampling algorithms and policies accept (NOTES "Sweep search space"):
// Bayesian sampling takes only choice, uniform and quniform and no early termination; grid
// sampling only choice; the enums of goal, algorithm and policy.
function sweepRules(props, errors) {
  const algorithm = (props.samplingAlgorithm || {}).samplingAlgorithmType;
  enumCheck(algorithm, values(sdk.KnownSamplingAlgorithmType), 'properties.samplingAlgorithm.samplingAlgorithmType', errors);
  if (!props.objective) errors.push({ target: 'properties.objective', message: 'a sweep job needs an objective' });
  else enumCheck(props.objective.goal, values(sdk.KnownGoal), 'properties.objective.goal', errors);
  if (props.earlyTermination) {
    enumCheck(props.earlyTermination.policyType, values(sdk.KnownEarlyTerminationPolicyType), 'properties.earlyTermination.policyType', errors);
  }
  const allowed = { Bayesian: ['choice', 'uniform', 'quniform'], Grid: ['choice'] }[algorithm];
  for (const [name, expr] of Object.entries(props.searchSpace || {})) {
    if (allowed && Array.isArray(expr) && !allowed.includes(expr[0])) {
      errors.push({ target: `properties.searchSpace.${name}`, message: `${algorithm} sampling supports only ${allowed.join(', ')}; '${name}' is ${expr[0]}` });
    }
  }
  if (algorithm === 'Bayesian' && props.earlyTermination) {
    errors.push({ target: 'properties.earlyTermination', message: 'Bayesian sampling does not support early termination policies' });
  }
  const policy = props.earlyTermination || {};
  if (policy.policyType === 'TruncationSelection' && !(policy.truncationPercentage >= 1 && policy.truncationPercentage <= 99)) {
    errors.push({ target: 'properties.earlyTermination.truncationPercentage', message: 'must be between 1 and 99' });
  }
  if (policy.policyType === 'Bandit' && !(policy.slackFactor > 0) === !(policy.slackAmount > 0)) {
    errors.push({ target: 'properties.earlyTermination', message: 'a Bandit policy takes exactly one of slackFactor and slackAmount' });
  }
  const limits = props.limits || {};
  positiveInteger(limits.maxTotalTrials, 'properties.limits.maxTotalTrials', errors);
  positiveInteger(limits.maxConcurrentTrials, 'properties.limits.maxConcurrentTrials', errors);
}

function environmentRules(props, errors) {
  const hasImage = typeof props.image === 'string' && props.image.length > 0;
  if (hasImage === Boolean(props.build)) {
    errors.push({ target: 'properties.image', message: 'an environment needs exactly one of image and build' });
  }
  if (props.condaFile !== undefined && props.condaFile !== null) {
    if (props.build) errors.push({ target: 'properties.condaFile', message: 'a conda file goes with an image, not with a build context' });
    condaFile(props.condaFile, 'properties.condaFile', errors);
  }
  enumCheck(props.osType, values(sdk.KnownOperatingSystemType), 'properties.osType', errors);
}

function computeRules(body, errors) {
  if (!body.location) errors.push({ target: 'location', message: "the required property 'location' is missing" });
  const props = (body.properties && body.properties.properties) || {};
  if (body.properties && body.properties.computeType === 'AmlCompute') {
    if (!props.vmSize) errors.push({ target: 'properties.properties.vmSize', message: "the required property 'vmSize' is missing" });
    enumCheck(props.vmPriority, values(sdk.KnownVmPriority), 'properties.properties.vmPriority', errors);
    enumCheck(props.osType, values(sdk.KnownOsType), 'properties.properties.osType', errors);
    const scale = props.scaleSettings || {};
    if (Number.isInteger(scale.minNodeCount) && Number.isInteger(scale.maxNodeCount) && scale.minNodeCount > scale.maxNodeCount) {
      errors.push({ target: 'properties.properties.scaleSettings', message: 'minNodeCount is above maxNodeCount' });
    }
  }
}

function modelRules(props, errors) {
  enumCheck(props.modelType, ['custom_model', 'mlflow_model', 'triton_model'], 'properties.modelType', errors);
  if (!props.modelUri) errors.push({ target: 'properties.modelUri', message: "the required property 'modelUri' is missing" });
}

// Runs the rules of one resource kind over a body that already passed the mappers.
function serviceRules(kind, body) {
  const errors = [];
  const props = (body && body.properties) || {};
  if (kind === 'JobBase') jobRules(props, errors);
  else if (kind === 'EnvironmentVersion') environmentRules(props, errors);
  else if (kind === 'ComputeResource') computeRules(body, errors);
  else if (kind === 'ModelVersion') modelRules(props, errors);
  return errors;
}

module.exports = { serviceRules, condaFile, searchSpace };
