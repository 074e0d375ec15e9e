// Faults on demand, set through POST /_emulator/faults. A rule matches requests by method
// and a path regex, skips the first `skip` matches, then acts on the next `count` (default 1):
//   {"status": 429, "retryAfter": 2}      answer that status in the service's error shape
//   {"status": 503}                         (500, 502, 504, 408 alike)
//   {"reset": true}                         destroy the socket without an answer
//   {"delayMs": 1500}                       answer normally, that much later
//   {"expiredToken": true}                  answer 401 ExpiredAuthenticationToken
// With `forMs` instead of a count, the rule acts on every match for that many milliseconds
// from when it was set (an outage: {"path": ".*", "status": 503, "forMs": 25000}).
// `{"failJobs": N}` makes the next N jobs' processes fail on their first run (exit 1).
'use strict';

const { HttpError } = require('./errors');

const KNOWN = new Set(['method', 'path', 'count', 'skip', 'status', 'retryAfter', 'reset', 'delayMs', 'expiredToken', 'failJobs', 'exitCode', 'forMs']);

class Faults {
  constructor() {
    this.rules = [];
    this.failJobs = 0;
    this.failExitCode = 1;
  }

  // Adds one rule or a list; throws a 400 HttpError for a rule it cannot read.
  add(input) {
    const list = Array.isArray(input) ? input : Array.isArray(input && input.faults) ? input.faults : [input];
    for (const rule of list) {
      if (!rule || typeof rule !== 'object') throw new HttpError(400, 'BadRequest', 'a fault must be a JSON object');
      const unknown = Object.keys(rule).filter((k) => !KNOWN.has(k));
      if (unknown.length) throw new HttpError(400, 'BadRequest', `unknown fault field(s): ${unknown.join(', ')}`);
      if (rule.failJobs !== undefined) {
        this.failJobs += Number(rule.failJobs) || 0;
        if (rule.exitCode !== undefined) this.failExitCode = Number(rule.exitCode);
        continue;
      }
      const acts = ['status', 'reset', 'delayMs', 'expiredToken'].filter((k) => rule[k] !== undefined);
      if (acts.length !== 1) throw new HttpError(400, 'BadRequest', 'a fault needs exactly one of status, reset, delayMs, expiredToken');
      let regex;
      try {
        regex = new RegExp(rule.path || '.*');
      } catch (e) {
        throw new HttpError(400, 'BadRequest', `fault path is not a regex: ${e.message}`);
      }
      const until = rule.forMs === undefined ? undefined : Date.now() + Number(rule.forMs);
      this.rules.push({ ...rule, regex, until, count: rule.count === undefined ? 1 : Number(rule.count), skip: Number(rule.skip || 0) });
    }
  }

  clear() {
    this.rules = [];
    this.failJobs = 0;
  }

  list() {
    return { rules: this.rules.map(({ regex, ...rest }) => rest), failJobs: this.failJobs };
  }

  // The rule that acts on this request, consuming one of its uses; control paths never match.
  take(method, pathname) {
    if (pathname.startsWith('/_emulator')) return null;
    const now = Date.now();
    this.rules = this.rules.filter((r) => r.until === undefined || r.until > now);
    for (const rule of this.rules) {
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      if (!rule.regex.test(pathname)) continue;
      if (rule.skip > 0) {
        rule.skip -= 1;
        continue;
      }
      if (rule.until !== undefined) return rule;
      if (rule.count <= 0) continue;
      rule.count -= 1;
      if (rule.count === 0) this.rules = this.rules.filter((r) => r !== rule);
      return rule;
    }
    return null;
  }

  // Whether a job starting now should fail its first run.
  takeJobFailure() {
    if (this.failJobs <= 0) return null;
    this.failJobs -= 1;
    return this.failExitCode;
  }
}

function faultError(rule) {
  const headers = rule.retryAfter !== undefined ? { 'Retry-After': String(rule.retryAfter) } : {};
  const codes = { 408: 'RequestTimeout', 429: 'TooManyRequests', 500: 'InternalServerError', 502: 'BadGateway', 503: 'ServiceUnavailable', 504: 'GatewayTimeout' };
  const code = codes[rule.status] || 'InjectedFault';
  return new HttpError(rule.status, code, `injected fault: ${rule.status} ${code}`, { headers });
}

module.exports = { Faults, faultError };
