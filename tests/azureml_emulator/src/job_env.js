// What a job's processes see, as Azure ML arranges it: the command with `${{inputs.x}}` and
// `${{outputs.x}}` replaced, and the variables the service sets (AZUREML_*, AZ_BATCH*, the
// torch.distributed ones for PyTorch distribution, AZ_BATCH_MASTER_NODE for Mpi). Every
// "node" is a folder on this machine, so the master address is loopback.
'use strict';

const REFERENCE = /\$\{\{\s*(inputs|outputs|search_space)\.([A-Za-z0-9_.-]+)\s*\}\}/g;

// The references a command makes that the job does not define, as {target, message}.
function unresolvedReferences(props) {
  const problems = [];
  const command = props.command || '';
  for (const match of command.matchAll(REFERENCE)) {
    const [, side, name] = match;
    const table = side === 'search_space' ? props.searchSpace : props[side];
    const defined = table && Object.prototype.hasOwnProperty.call(table, name);
    if (!defined) {
      problems.push({ target: 'properties.command',
                      message: `the command refers to ${side}.${name}, which the job does not define in '${side}'` });
    }
  }
  return problems;
}

// values: {inputs: {name: path or literal}, outputs: {name: path}}
function substitute(command, values) {
  return command.replace(REFERENCE, (whole, side, name) => {
    const table = values[side] || {};
    return Object.prototype.hasOwnProperty.call(table, name) ? String(table[name]) : whole;
  });
}

const envName = (name) => name.replace(/[^A-Za-z0-9_]/g, '_');

// The variables common to every process of node `node` (0-based).
function nodeEnv(job, ctx, node) {
  const env = {
    AZUREML_RUN_ID: job.name,
    AZUREML_ARM_SUBSCRIPTION: ctx.subscription,
    AZUREML_ARM_RESOURCEGROUP: ctx.resourceGroup,
    AZUREML_ARM_WORKSPACE_NAME: ctx.workspace,
    AZUREML_ARM_PROJECT_NAME: job.experimentName,
    AZUREML_EXPERIMENT_ID: job.experimentId,
    AZUREML_NODE_COUNT: String(job.nodes),
    AZ_BATCH_NODE_ROOT_DIR: ctx.nodeDirs[node],
    AZ_BATCH_NODE_SHARED_DIR: ctx.sharedDir,
    AZ_BATCH_NODE_ID: `tvmps_emulator_${node}_d`,
    AZ_BATCH_NODE_LIST: ctx.nodeDirs.map(() => '127.0.0.1').join(';'),
    AZ_BATCHAI_NODE_IP: '127.0.0.1',
    AZ_BATCHAI_TASK_INDEX: String(node),
    AZ_BATCHAI_JOB_TEMP: ctx.sharedDir,
    AZ_BATCH_MASTER_NODE: `127.0.0.1:${ctx.masterPort}`,
    AZ_BATCHAI_MPI_MASTER_NODE: '127.0.0.1',
  };
  for (const [name, value] of Object.entries(ctx.inputs)) {
    env[`AZURE_ML_INPUT_${envName(name)}`] = String(value);
    if (ctx.literals.has(name)) env[`AZUREML_PARAMETER_${envName(name)}`] = String(value);
  }
  for (const [name, dir] of Object.entries(ctx.outputs[node] || {})) env[`AZURE_ML_OUTPUT_${envName(name)}`] = dir;
  if (ctx.mlflowEnv) Object.assign(env, ctx.mlflowEnv(job));
  return Object.assign(env, job.environmentVariables || {});
}

// The torch.distributed variables of one PyTorch process.
function pytorchEnv(job, ctx, node, local) {
  return {
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(ctx.masterPort),
    WORLD_SIZE: String(job.nodes * job.perNode),
    NODE_RANK: String(node),
    RANK: String(node * job.perNode + local),
    LOCAL_RANK: String(local),
  };
}

// The log name of process `rank`: std_log.txt without distribution on one node, else
// std_log_process_N.txt, N padded to the width of the largest rank as the service does.
function logName(job, rank) {
  if (!job.distributionType && job.nodes === 1) return 'user_logs/std_log.txt';
  const width = String(Math.max(job.nodes * job.perNode - 1, 0)).length;
  return `user_logs/std_log_process_${String(rank).padStart(width, '0')}.txt`;
}

// An ISO 8601 duration (PT2H, P1DT30M, PT0.5S) in milliseconds; null when absent or odd.
function durationMs(text) {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text || '');
  if (!m) return null;
  const [d, h, min, s] = m.slice(1).map((x) => Number(x || 0));
  return (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
}

module.exports = { unresolvedReferences, substitute, nodeEnv, pytorchEnv, logName, durationMs };
