// Ships a running job's log files to blob storage as the service does: each local file is an
// append blob under the job's artifact folder, and what a process wrote is appended every
// `intervalMs`, so a client reading by byte range sees lines while the job runs.
'use strict';

const fs = require('fs');

const MAX_BLOCK = 4 * 1024 * 1024;

class LogShipper {
  // blobs: Blobs; container: where logs go; prefix: the job's folder (ExperimentRun/dcid.X)
  constructor(blobs, container, prefix, intervalMs = 200) {
    Object.assign(this, { blobs, container, prefix, intervalMs });
    this.files = new Map(); // blob name -> {local, offset, created}
    this.timer = null;
    this.busy = null;
  }

  // Registers a local file as the blob `name` (e.g. user_logs/std_log_process_0.txt) and
  // creates the blob at once, empty, so that run history lists it from the start.
  async add(name, local) {
    this.files.set(name, { local, offset: 0 });
    await this.blobs.appendBlob(this.container, `${this.prefix}/${name}`).createIfNotExists();
  }

  names() {
    return [...this.files.keys()];
  }

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => { this.flush().catch(() => {}); }, this.intervalMs);
  }

  // Appends whatever is new in every file; concurrent calls wait for the one running.
  async flush() {
    while (this.busy) await this.busy;
    this.busy = this.flushOnce();
    try {
      await this.busy;
    } finally {
      this.busy = null;
    }
  }

  async flushOnce() {
    for (const [name, entry] of this.files) {
      let handle;
      try {
        handle = await fs.promises.open(entry.local, 'r');
      } catch {
        continue; // not written yet
      }
      try {
        const { size } = await handle.stat();
        while (entry.offset < size) {
          const length = Math.min(size - entry.offset, MAX_BLOCK);
          const buffer = Buffer.alloc(length);
          const { bytesRead } = await handle.read(buffer, 0, length, entry.offset);
          if (bytesRead === 0) break;
          await this.blobs.appendBlob(this.container, `${this.prefix}/${name}`).appendBlock(buffer.subarray(0, bytesRead), bytesRead);
          entry.offset += bytesRead;
        }
      } finally {
        await handle.close();
      }
    }
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}

module.exports = { LogShipper };
