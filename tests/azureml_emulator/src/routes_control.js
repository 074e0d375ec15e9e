// The control API tests drive the emulator with (no token needed, loopback only):
//   GET    /_emulator/health            {"ok": true, "port": N}
//   POST   /_emulator/faults            add fault rules (faults.js has the shapes)
//   GET    /_emulator/faults            the rules still pending
//   DELETE /_emulator/faults            drop them all
//   GET    /_emulator/requests          every request received: method, path, apiVersion,
//                                       status (0 for a reset), fault, time
//   DELETE /_emulator/requests          forget them
//   POST   /_emulator/tokens/expire     every token issued so far is expired from now on
//   GET    /_emulator/jobs              each job's name, status, states walked and error
'use strict';

const { HttpError } = require('./errors');

function controlRoutes(emu, req, url, raw) {
  const key = `${req.method} ${url.pathname.replace(/\/+$/, '')}`;
  switch (key) {
    case 'GET /_emulator/health':
      return { status: 200, body: { ok: true, port: emu.port } };
    case 'POST /_emulator/faults':
      emu.faults.add(emu.json(raw));
      return { status: 200, body: emu.faults.list() };
    case 'GET /_emulator/faults':
      return { status: 200, body: emu.faults.list() };
    case 'DELETE /_emulator/faults':
      emu.faults.clear();
      return { status: 200, body: emu.faults.list() };
    case 'GET /_emulator/requests':
      return { status: 200, body: { requests: emu.requests } };
    case 'DELETE /_emulator/requests':
      emu.requests = [];
      return { status: 200, body: { requests: [] } };
    case 'POST /_emulator/tokens/expire':
      emu.tokens.expireAll();
      return { status: 200, body: { expired: emu.tokens.issued.size } };
    case 'GET /_emulator/jobs':
      return { status: 200, body: { jobs: [...emu.workspace.jobs.values()].map((j) => ({
        name: j.name, status: j.status, history: j.history, error: j.error || null })) } };
    default:
      throw new HttpError(404, 'NotFound', `no control call ${key}`);
  }
}

module.exports = { controlRoutes };
