// Runs a command job for real on this machine, as a cluster would: the service's states
// (NotStarted → Queued → Preparing → Running → Finalizing → Completed | Failed | Canceled),
// the code version's blobs downloaded from Azurite into each node's folder, inputs
// downloaded, `instanceCount` × `processCountPerInstance` processes (`/bin/bash -c` the
// command; an Mpi job through one real `mpirun`), `python`/`python3` on PATH as the one
// configured interpreter, every process's output shipped live to its log blob, `./outputs`
// and `./logs` of every node and each named output uploaded at the end, cancel and the
// job's timeout honoured by killing the process groups.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const { spawn, spawnSync } = require('child_process');
const { LogShipper } = require('./log_shipper');
const { substitute, nodeEnv, pytorchEnv, logName, durationMs } = require('./job_env');

const TERMINAL = new Set(['Completed', 'Failed', 'Canceled', 'NotResponding', 'Paused']);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function mpirunPath() {
  const found = spawnSync('/bin/sh', ['-c', 'command -v mpirun'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

class JobRunner {
  // ctx: {blobs, python, workRoot, faults, storage (workspace storage: resolveUri,
  //       artifactContainer), subscription, resourceGroup, workspace, stateDelayMs}
  constructor(ctx) {
    this.ctx = ctx;
  }

  // job: the emulator's job record (see routes_jobs.js); runs in the background.
  start(job) {
    job.run = { children: [], canceled: false, reason: null };
    this.lifecycle(job).catch((e) => this.finish(job, 'Failed', { code: 'SystemError', message: `emulator: ${e.message}` }));
  }

  async setStatus(job, status) {
    if (TERMINAL.has(job.status) || job.run.canceled) return;
    job.status = status;
    job.history.push({ status, time: new Date().toISOString() });
    if (status === 'Running') job.startTimeUtc = new Date().toISOString();
  }

  async lifecycle(job) {
    const delay = this.ctx.stateDelayMs;
    for (const state of ['Queued', 'Preparing']) {
      await sleep(delay);
      if (job.run.canceled) return this.finish(job, 'Canceled');
      await this.setStatus(job, state);
    }
    const layout = await this.prepare(job);
    if (job.run.canceled) return this.finish(job, 'Canceled');
    await sleep(delay);
    if (job.run.canceled) return this.finish(job, 'Canceled');
    await this.setStatus(job, 'Running');
    const outcome = await this.execute(job, layout);
    await this.setStatus(job, 'Finalizing');
    await this.upload(job, layout);
    return this.finish(job, outcome.status, outcome.error);
  }

  finish(job, status, error) {
    if (TERMINAL.has(job.status)) return;
    if (error) job.error = error;
    job.endTimeUtc = new Date().toISOString();
    job.status = status;
    job.history.push({ status, time: job.endTimeUtc });
  }

  // Folders, code, inputs, outputs and the python shims of every node.
  async prepare(job) {
    const { blobs, storage } = this.ctx;
    const root = await fs.promises.mkdtemp(path.join(this.ctx.workRoot, `${job.name}-`));
    const layout = { root, sharedDir: path.join(root, 'shared'), nodeDirs: [], codeDirs: [], binDir: path.join(root, 'bin'),
                     logDir: path.join(root, 'user_logs'), inputs: {}, literals: new Set(), outputs: [], namedOutputs: [] };
    for (const dir of [layout.sharedDir, layout.binDir, layout.logDir]) await fs.promises.mkdir(dir, { recursive: true });
    for (const name of ['python', 'python3']) await fs.promises.symlink(this.ctx.python, path.join(layout.binDir, name));
    for (const [name, input] of Object.entries(job.inputs || {})) {
      if (input.jobInputType === 'literal') {
        layout.inputs[name] = input.value;
        layout.literals.add(name);
        continue;
      }
      const where = storage.resolveUri(input.uri, job);
      const dir = path.join(root, 'inputs', name);
      await fs.promises.mkdir(dir, { recursive: true });
      if (where) await blobs.downloadPrefix(where.container, where.prefix, dir);
      const single = input.jobInputType === 'uri_file' && where ? path.join(dir, path.basename(where.prefix)) : dir;
      layout.inputs[name] = single;
    }
    for (let node = 0; node < job.nodes; node += 1) {
      const nodeDir = path.join(root, `node-${node}`);
      const codeDir = path.join(nodeDir, 'code');
      await fs.promises.mkdir(codeDir, { recursive: true });
      if (job.code) await blobs.downloadPrefix(job.code.container, job.code.prefix, codeDir);
      layout.nodeDirs.push(nodeDir);
      layout.codeDirs.push(codeDir);
      const outs = {};
      for (const [name, output] of Object.entries(job.outputs || {})) {
        if (name === 'default') continue;
        const dir = path.join(nodeDir, 'outputs_named', name);
        await fs.promises.mkdir(dir, { recursive: true });
        const where = storage.outputLocation(name, output, job);
        // A mounted output shows what the datastore already holds (a checkpoint folder).
        if (node === 0 && output.mode !== 'Upload' && where) await blobs.downloadPrefix(where.container, where.prefix, dir);
        outs[name] = dir;
        layout.namedOutputs.push({ node, name, dir, where });
      }
      layout.outputs.push(outs);
    }
    return layout;
  }

  processEnv(job, layout, node) {
    const env = {
      PATH: `${layout.binDir}:${process.env.PATH || '/usr/local/bin:/usr/bin:/bin'}`,
      HOME: process.env.HOME || os.homedir(),
      LANG: process.env.LANG || 'C.UTF-8',
      TMPDIR: os.tmpdir(),
      PYTHONUNBUFFERED: '1',
    };
    return Object.assign(env, nodeEnv(job, { ...this.ctx, ...layout, masterPort: layout.masterPort }, node));
  }

  async execute(job, layout) {
    layout.masterPort = await freePort();
    const exitCode = this.ctx.faults.takeJobFailure();
    const command = exitCode === null
      ? substitute(job.command, { inputs: layout.inputs, outputs: layout.outputs[0] || {} })
      : `echo "emulator: injected failure of this job (failJobs)" >&2; exit ${exitCode}`;
    const shipper = new LogShipper(this.ctx.blobs, this.ctx.storage.artifactContainer, job.artifactPrefix, this.ctx.logFlushMs);
    job.shipper = shipper;
    const world = job.nodes * job.perNode;
    for (let rank = 0; rank < world; rank += 1) {
      const name = logName(job, rank);
      await shipper.add(name, path.join(layout.root, name));
    }
    shipper.start();
    const timeout = durationMs(job.timeout);
    const timer = timeout ? setTimeout(() => this.kill(job, 'timeout'), timeout) : null;
    let results;
    try {
      results = job.distributionType === 'Mpi'
        ? await this.runMpi(job, layout, command, shipper)
        : await this.runProcesses(job, layout, command);
    } finally {
      if (timer) clearTimeout(timer);
      await shipper.stop();
    }
    return this.outcome(job, layout, results);
  }

  spawnLogged(file, args, options, logFile) {
    const fd = fs.openSync(logFile, 'a');
    const child = spawn(file, args, { ...options, stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    return child;
  }

  waitAll(job, children) {
    return Promise.all(children.map(({ child, rank }) => new Promise((resolve) => {
      child.on('error', (e) => resolve({ rank, code: 127, error: e.message }));
      child.on('exit', (code, signal) => {
        const result = { rank, code: code === null ? 128 : code, signal };
        // One process failing brings the job down, as on the service.
        if (result.code !== 0 && !job.run.canceled) setTimeout(() => this.kill(job, 'failure'), 1000);
        resolve(result);
      });
    })));
  }

  async runProcesses(job, layout, command) {
    const children = [];
    for (let node = 0; node < job.nodes; node += 1) {
      for (let local = 0; local < job.perNode; local += 1) {
        const rank = node * job.perNode + local;
        const env = this.processEnv(job, layout, node);
        if (job.distributionType === 'PyTorch') Object.assign(env, pytorchEnv(job, layout, node, local));
        const child = this.spawnLogged('/bin/bash', ['-c', command], { cwd: layout.codeDirs[node], env },
                                       path.join(layout.root, logName(job, rank)));
        children.push({ child, rank });
      }
    }
    job.run.children = children.map((c) => c.child);
    if (job.run.canceled) this.kill(job, job.run.reason);
    return this.waitAll(job, children);
  }

  // One mpirun for every rank; a small wrapper puts each rank in its node's folder with that
  // node's variables and sends its output to its own log file.
  async runMpi(job, layout, command, shipper) {
    const mpirun = mpirunPath();
    if (!mpirun) return [{ rank: 0, code: 127, error: 'mpirun is not installed on this machine' }];
    const wrapper = path.join(layout.root, 'mpi_rank.sh');
    const logs = [];
    for (let rank = 0; rank < job.nodes * job.perNode; rank += 1) logs.push(path.join(layout.root, logName(job, rank)));
    const lines = ['#!/bin/bash', 'rank=${OMPI_COMM_WORLD_RANK:?not started by mpirun}', `per_node=${job.perNode}`,
                   'node=$((rank / per_node))', `logs=(${logs.map((l) => `'${l}'`).join(' ')})`];
    for (let node = 0; node < job.nodes; node += 1) {
      const env = this.processEnv(job, layout, node);
      const exports = Object.entries(env).map(([k, v]) => `export ${k}='${String(v).replace(/'/g, "'\\''")}'`).join('; ');
      lines.push(`if [ "$node" = ${node} ]; then ${exports}; cd '${layout.codeDirs[node]}'; fi`);
    }
    lines.push('exec /bin/bash -c "$AMLFLOW_EMULATOR_COMMAND" >>"${logs[$rank]}" 2>&1');
    await fs.promises.writeFile(wrapper, `${lines.join('\n')}\n`, { mode: 0o755 });
    const args = ['-np', String(job.nodes * job.perNode), '--oversubscribe', '--bind-to', 'none'];
    if (process.getuid && process.getuid() === 0) args.unshift('--allow-run-as-root');
    const env = { ...this.processEnv(job, layout, 0), AMLFLOW_EMULATOR_COMMAND: command, OMPI_MCA_btl_vader_single_copy_mechanism: 'none' };
    const systemLog = path.join(layout.root, 'system_logs', 'mpirun.txt');
    await fs.promises.mkdir(path.dirname(systemLog), { recursive: true });
    await shipper.add('system_logs/mpirun.txt', systemLog);
    const child = this.spawnLogged(mpirun, [...args, '/bin/bash', wrapper], { cwd: layout.codeDirs[0], env }, systemLog);
    job.run.children = [child];
    if (job.run.canceled) this.kill(job, job.run.reason);
    return this.waitAll(job, [{ child, rank: -1 }]);
  }

  kill(job, reason) {
    if (!job.run.reason) job.run.reason = reason;
    if (reason === 'cancel' || reason === 'timeout') job.run.canceled = true;
    for (const child of job.run.children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref();
    }
  }

  cancel(job) {
    if (TERMINAL.has(job.status)) return;
    job.status = 'CancelRequested';
    job.history.push({ status: 'CancelRequested', time: new Date().toISOString() });
    this.kill(job, 'cancel');
  }

  async outcome(job, layout, results) {
    if (job.run.reason === 'cancel') return { status: 'Canceled' };
    if (job.run.reason === 'timeout') {
      return { status: 'Canceled', error: { code: 'UserError', message: `The job ran past its timeout (${job.timeout}) and was canceled.` } };
    }
    const failed = results.filter((r) => r.code !== 0).sort((a, b) => a.rank - b.rank)[0];
    if (!failed) return { status: 'Completed' };
    const log = failed.rank >= 0 ? logName(job, failed.rank) : 'system_logs/mpirun.txt';
    let tail = '';
    try {
      tail = (await fs.promises.readFile(path.join(layout.root, log), 'utf8')).trim().split('\n').slice(-5).join('\n');
    } catch { /* no log */ }
    const who = failed.rank >= 0 ? `Rank ${failed.rank}` : 'mpirun';
    const message = failed.error
      ? `Execution failed: ${failed.error}`
      : `Execution failed. User process '${who}' exited with status code ${failed.code}. Please check log file '${log}' for error details. Error: ${tail}`;
    return { status: 'Failed', error: { code: 'UserError', message } };
  }

  // Outputs and logs of every node (node 0 last, so its files win), then named outputs.
  async upload(job, layout) {
    const { blobs, storage } = this.ctx;
    for (let node = job.nodes - 1; node >= 0; node -= 1) {
      for (const folder of ['outputs', 'logs']) {
        await blobs.uploadDir(path.join(layout.codeDirs[node], folder), storage.artifactContainer, `${job.artifactPrefix}/${folder}`);
      }
    }
    for (const out of layout.namedOutputs.sort((a, b) => b.node - a.node)) {
      if (out.where) await blobs.uploadDir(out.dir, out.where.container, out.where.prefix);
    }
    if (!this.ctx.keepWork) await fs.promises.rm(layout.root, { recursive: true, force: true });
  }
}

module.exports = { JobRunner, TERMINAL };
