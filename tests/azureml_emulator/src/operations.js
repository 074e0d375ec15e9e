// The emulator's long-running operations, polled as the resource manager's are:
//  - `Azure-AsyncOperation` status URLs (a compute's creation) answer 200 with
//    {status: InProgress | Succeeded | Failed} and `Retry-After` while in progress;
//  - `Location` result URLs (a job's cancel) answer 202 with `Location` and `Retry-After`
//    until the work is done, then 200.
// Each operation asks its `state()` callback for where it stands at every poll.
'use strict';

const crypto = require('crypto');
const { HttpError } = require('./errors');

class Operations {
  constructor(emulator) {
    this.emulator = emulator;
    this.ops = new Map();
  }

  // style: 'async' or 'location'; state(op) -> 'InProgress' | 'Succeeded' | 'Failed'
  create(style, state, apiVersion) {
    const { subscription, location } = this.emulator.options;
    const id = crypto.randomUUID();
    const kind = style === 'async' ? 'computeOperationsStatus' : 'mfeOperationResults';
    const op = { id, style, state, polls: 0, started: new Date().toISOString() };
    op.path = `/subscriptions/${subscription}/providers/Microsoft.MachineLearningServices/locations/${location}/${kind}/${id}`;
    op.url = `${this.emulator.baseUrl}${op.path}?api-version=${encodeURIComponent(apiVersion)}`;
    this.ops.set(op.path.toLowerCase(), op);
    return op;
  }

  match(pathname) {
    return this.ops.get(pathname.toLowerCase()) || null;
  }

  answer(op, req) {
    if (req.method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'operation status takes GET');
    op.polls += 1;
    const status = op.state(op);
    const retry = { 'Retry-After': String(this.emulator.options.retryAfterS) };
    if (op.style === 'async') {
      const body = { id: op.path, name: op.id, status, startTime: op.started };
      if (status !== 'InProgress') body.endTime = new Date().toISOString();
      if (status === 'Failed') body.error = { code: 'ProvisioningFailed', message: 'the operation failed' };
      return { status: 200, body, headers: status === 'InProgress' ? retry : {} };
    }
    if (status === 'InProgress') return { status: 202, headers: { ...retry, Location: op.url } };
    return { status: 200 };
  }
}

module.exports = { Operations };
