// The service's error answers: `{"error": {"code", "message", "target", "details": [...]}}`,
// the shape of the SDK's ErrorResponse mapper, with Azure ML's `innerError` beside it.
'use strict';

class HttpError extends Error {
  constructor(status, code, message, { details = [], target, headers = {}, inner } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.target = target;
    this.headers = headers;
    this.inner = inner;
  }

  body() {
    const error = { code: this.code, message: this.message };
    if (this.target) error.target = this.target;
    error.details = this.details;
    if (this.inner) error.innerError = { code: this.inner };
    return { error };
  }
}

// A 400 for a body that broke the schema or the service's rules: one detail per problem.
function validationError(problems, what) {
  const details = problems.map((p) => ({ code: 'Invalid', message: p.message, target: p.target, details: [] }));
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return new HttpError(400, 'UserError', `${what} is invalid: ${first.target}: ${first.message}${more}`,
                       { details, target: first.target, inner: 'BadArgument' });
}

const notFound = (what) => new HttpError(404, 'UserError', `${what} was not found`, { inner: 'NotFound' });

module.exports = { HttpError, validationError, notFound };
