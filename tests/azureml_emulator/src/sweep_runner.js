// Runs a sweep job as the service does: trials drawn from the REST search space by the
// sampling algorithm (Random, seeded by `seed` when given; Grid: every combination of the
// choices in order; Bayesian: the emulator draws at random, the service's model is not
// emulated), each trial a child command job named `<sweep>_<N>` (the trial component with
// `${{search_space.x}}` replaced) run for real by the job runner, at most
// `maxConcurrentTrials` at once and `maxTotalTrials` in all; the early-termination policy
// (Bandit, MedianStopping, TruncationSelection) evaluated on the primary metric the trials
// report through the MLflow endpoints, canceling the trials it ends; `timeout` ends the
// sweep (running trials canceled), `trialTimeout` each trial. At the end run history's
// properties name `best_child_run_id` and its `score` (the best last value of the primary
// metric among the Completed trials), as HyperDrive's parent run does; a sweep with no trial
// that reported it Fails.
'use strict';

const { TERMINAL } = require('./job_runner');
const { durationMs } = require('./job_env');

const TICK_MS = 200;

// A small seeded generator (mulberry32): the same seed draws the same trials.
function generator(seed) {
  let a = (Number(seed) >>> 0) || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function draw([kind, args], random) {
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const q = (v, step) => Math.round(v / step) * step;
  switch (kind) {
    case 'choice': return args[0][Math.floor(random() * args[0].length)];
    case 'randint': return Math.floor(random() * args[0]);
    case 'uniform': return args[0] + random() * (args[1] - args[0]);
    case 'quniform': return q(args[0] + random() * (args[1] - args[0]), args[2]);
    case 'loguniform': return Math.exp(args[0] + random() * (args[1] - args[0]));
    case 'qloguniform': return q(Math.exp(args[0] + random() * (args[1] - args[0])), args[2]);
    case 'normal': return args[0] + args[1] * gauss();
    case 'qnormal': return q(args[0] + args[1] * gauss(), args[2]);
    case 'lognormal': return Math.exp(args[0] + args[1] * gauss());
    case 'qlognormal': return q(Math.exp(args[0] + args[1] * gauss()), args[2]);
    default: throw new Error(`no such search space type '${kind}'`);
  }
}

// Every combination of the choices, the last name varying fastest.
function gridPoints(space) {
  let points = [{}];
  for (const [name, [, args]] of Object.entries(space)) {
    points = points.flatMap((p) => args[0].map((v) => ({ ...p, [name]: v })));
  }
  return points;
}

const substitute = (command, point) => command.replace(/\$\{\{\s*search_space\.([A-Za-z0-9_]+)\s*\}\}/g,
                                                        (whole, name) => (name in point ? String(point[name]) : whole));

class SweepRunner {
  constructor(emu) {
    this.emu = emu;
  }

  // sweep: the job record (routes_jobs.js newJob) of a Sweep job.
  start(sweep) {
    const props = sweep.props;
    const limits = props.limits || {};
    const algorithm = (props.samplingAlgorithm || {}).samplingAlgorithmType || 'Random';
    const grid = algorithm === 'Grid' ? gridPoints(props.searchSpace) : null;
    const total = Math.min(limits.maxTotalTrials || (grid ? grid.length : 1000), grid ? grid.length : Infinity);
    sweep.sweep = { total, parallel: limits.maxConcurrentTrials || total, grid, started: 0, children: [],
                    random: generator((props.samplingAlgorithm || {}).seed), canceled: false, timedOut: false };
    const timeout = durationMs(limits.timeout);
    if (timeout) sweep.sweep.timer = setTimeout(() => { sweep.sweep.timedOut = true; }, timeout);
    this.setStatus(sweep, 'Queued');
    this.setStatus(sweep, 'Running');
    sweep.startTimeUtc = new Date().toISOString();
    sweep.sweep.tick = setInterval(() => this.tick(sweep), TICK_MS);
  }

  setStatus(job, status) {
    if (TERMINAL.has(job.status)) return;
    job.status = status;
    job.history.push({ status, time: new Date().toISOString() });
  }

  cancel(sweep) {
    if (TERMINAL.has(sweep.status)) return;
    this.setStatus(sweep, 'CancelRequested');
    sweep.sweep.canceled = true;
  }

  stop(sweep) {
    if (sweep.sweep) clearInterval(sweep.sweep.tick);
  }

  trial(sweep, index) {
    const s = sweep.sweep;
    const point = s.grid ? s.grid[index] : Object.fromEntries(Object.entries(sweep.props.searchSpace)
      .sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, expr]) => [name, draw(expr, s.random)]));
    const t = sweep.props.trial;
    const props = {
      jobType: 'Command', command: substitute(t.command, point), codeId: t.codeId, environmentId: t.environmentId,
      computeId: sweep.props.computeId, experimentName: sweep.experimentName, displayName: `${sweep.name}_${index}`,
      environmentVariables: t.environmentVariables || {}, tags: { ...(sweep.props.tags || {}) },
      inputs: sweep.props.inputs || {},
      // The sweep's outputs are each trial's, at the trial's own default path unless given one.
      outputs: sweep.props.outputs || {},
    };
    if (t.distribution) props.distribution = t.distribution;
    if (t.resources) props.resources = t.resources;
    const trialTimeout = (sweep.props.limits || {}).trialTimeout;
    if (trialTimeout) props.limits = { jobLimitsType: 'Command', timeout: trialTimeout };
    const child = require('./routes_jobs').newJob(this.emu, `${sweep.name}_${index}`, props, sweep.trialCode);
    child.parent = sweep.name;
    child.hyperparameters = point;
    this.emu.workspace.jobs.set(child.name, child);
    s.children.push(child);
    this.emu.runner.start(child);
  }

  // The primary metric's values a trial has reported, in order.
  values(child) {
    return this.emu.mlflow.series(child.name, this.objective(child).primaryMetric).map((m) => m.value);
  }

  objective(job) {
    const parent = job.parent ? this.emu.workspace.jobs.get(job.parent) : job;
    return parent.props.objective || { primaryMetric: '', goal: 'Maximize' };
  }

  tick(sweep) {
    const s = sweep.sweep;
    const running = s.children.filter((c) => !TERMINAL.has(c.status));
    if (s.canceled || s.timedOut) {
      for (const child of running) if (child.status !== 'CancelRequested') this.emu.runner.cancel(child);
      if (running.length === 0) this.end(sweep);
      return;
    }
    this.earlyTermination(sweep, running);
    while (s.started < s.total && s.children.filter((c) => !TERMINAL.has(c.status)).length < s.parallel) {
      this.trial(sweep, s.started);
      s.started += 1;
    }
    if (s.started >= s.total && s.children.every((c) => TERMINAL.has(c.status))) this.end(sweep);
  }

  // Azure ML's policies, evaluated when a running trial's count of reported values reaches an
  // evaluation point (every `evaluationInterval` after `delayEvaluation`), against the values
  // every trial had at the same count.
  earlyTermination(sweep, running) {
    const policy = sweep.props.earlyTermination;
    if (!policy) return;
    const maximize = (sweep.props.objective.goal || '').toLowerCase() === 'maximize';
    const better = (a, b) => (maximize ? a > b : a < b);
    const interval = Math.max(1, policy.evaluationInterval || 1);
    const delay = policy.delayEvaluation || 0;
    for (const child of running) {
      if (child.status !== 'Running' || child.earlyTerminated) continue;
      const mine = this.values(child);
      const n = mine.length;
      if (n === 0 || n <= delay || (n - delay) % interval !== 0 || child.evaluatedAt === n) continue;
      const peers = sweep.sweep.children.map((c) => this.values(c)).filter((v) => v.length >= n).map((v) => v.slice(0, n));
      if (peers.length < 2) continue;  // asked again at the next tick, when others may have caught up
      child.evaluatedAt = n;
      const current = mine[n - 1];
      let stop = false;
      if (policy.policyType === 'Bandit') {
        const best = peers.map((v) => v[n - 1]).reduce((a, b) => (better(b, a) ? b : a));
        let bound;
        if (policy.slackAmount) bound = maximize ? best - policy.slackAmount : best + policy.slackAmount;
        else bound = maximize ? best / (1 + policy.slackFactor) : best * (1 + policy.slackFactor);
        stop = better(bound, current);
      } else if (policy.policyType === 'MedianStopping') {
        const means = peers.map((v) => v.reduce((a, b) => a + b, 0) / n).sort((a, b) => a - b);
        const median = means[Math.floor(means.length / 2)];
        const bestMine = mine.reduce((a, b) => (better(b, a) ? b : a));
        stop = better(median, bestMine);
      } else if (policy.policyType === 'TruncationSelection') {
        const worse = peers.filter((v) => better(current, v[n - 1])).length;
        stop = worse / peers.length < (policy.truncationPercentage || 0) / 100;
      }
      if (stop) {
        child.earlyTerminated = policy.policyType;
        this.emu.runner.cancel(child);
      }
    }
  }

  end(sweep) {
    const s = sweep.sweep;
    this.stop(sweep);
    if (s.timer) clearTimeout(s.timer);
    const maximize = (sweep.props.objective.goal || '').toLowerCase() === 'maximize';
    let best = null;
    for (const child of s.children) {
      const v = this.values(child);
      if (child.status !== 'Completed' || v.length === 0 || Number.isNaN(v[v.length - 1])) continue;
      const score = v[v.length - 1];
      if (!best || (maximize ? score > best.score : score < best.score)) best = { name: child.name, score };
    }
    sweep.endTimeUtc = new Date().toISOString();
    if (best) {
      sweep.best = best;
      this.setStatus(sweep, 'Completed');
    } else if (s.canceled) {
      this.setStatus(sweep, 'Canceled');
    } else {
      sweep.error = { code: 'UserError', message: `no trial completed with a value of the primary metric '${sweep.props.objective.primaryMetric}'` };
      this.setStatus(sweep, s.timedOut ? 'Canceled' : 'Failed');
    }
  }
}

module.exports = { SweepRunner, gridPoints };
