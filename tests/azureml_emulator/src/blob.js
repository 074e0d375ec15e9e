// The emulator's side of blob storage, on Azurite through Microsoft's storage SDK: the
// workspace's containers, SAS URLs handed to clients (path-style, as Azurite serves them),
// folders downloaded and uploaded, and logs appended to append blobs while a job runs.
'use strict';

const fs = require('fs');
const path = require('path');
const {
  BlobServiceClient, StorageSharedKeyCredential, generateBlobSASQueryParameters,
  ContainerSASPermissions, BlobSASPermissions,
} = require('@azure/storage-blob');

const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

class Blobs {
  // endpoint: Azurite's account URL, e.g. http://127.0.0.1:10000/devstoreaccount1
  constructor({ endpoint, account = DEV_ACCOUNT, key = DEV_KEY }) {
    this.endpoint = endpoint.replace(/\/+$/, '');
    this.account = account;
    this.key = key;
    this.credential = new StorageSharedKeyCredential(account, key);
    this.service = new BlobServiceClient(this.endpoint, this.credential, { retryOptions: { maxTries: 2 } });
  }

  container(name) {
    return this.service.getContainerClient(name);
  }

  async ensureContainer(name) {
    await this.container(name).createIfNotExists();
  }

  sas(options) {
    return generateBlobSASQueryParameters({
      startsOn: new Date(Date.now() - 5 * 60 * 1000),
      expiresOn: new Date(Date.now() + 24 * 3600 * 1000),
      ...options,
    }, this.credential).toString();
  }

  containerSasUrl(container, permissions = 'racwdl') {
    const sas = this.sas({ containerName: container, permissions: ContainerSASPermissions.parse(permissions) });
    return `${this.endpoint}/${container}?${sas}`;
  }

  blobUrl(container, blob) {
    return `${this.endpoint}/${container}/${blob.split('/').map(encodeURIComponent).join('/')}`;
  }

  blobSasUrl(container, blob, permissions = 'r') {
    const sas = this.sas({ containerName: container, blobName: blob, permissions: BlobSASPermissions.parse(permissions) });
    return `${this.blobUrl(container, blob)}?${sas}`;
  }

  // Reads a blob URL of either style — https://acct.blob.host/container/prefix or Azurite's
  // http://127.0.0.1:port/acct/container/prefix — into {container, prefix}; null if foreign.
  parseUrl(text) {
    let url;
    try {
      url = new URL(text);
    } catch {
      return null;
    }
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const hostAccount = url.hostname.split('.')[0];
    if (url.hostname.includes('.blob.') && hostAccount === this.account) {
      return { container: parts[0], prefix: parts.slice(1).join('/') };
    }
    if (parts[0] === this.account) return { container: parts[1], prefix: parts.slice(2).join('/') };
    return null;
  }

  async list(container, prefix) {
    const names = [];
    const client = this.container(container);
    if (!(await client.exists())) return names;
    for await (const item of client.listBlobsFlat({ prefix })) names.push(item.name);
    return names;
  }

  // Downloads every blob under prefix into dir (keeping the relative paths); returns the count.
  async downloadPrefix(container, prefix, dir) {
    const base = prefix.replace(/\/+$/, '');
    const names = await this.list(container, base ? `${base}/` : '');
    const single = base && names.length === 0 && (await this.container(container).getBlobClient(base).exists());
    if (single) names.push(base);
    for (const name of names) {
      const rel = single ? path.basename(name) : name.slice(base ? base.length + 1 : 0);
      const target = path.join(dir, rel);
      if (!target.startsWith(path.resolve(dir) + path.sep) && target !== path.resolve(dir)) continue;
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      await this.container(container).getBlobClient(name).downloadToFile(target);
    }
    return names.length;
  }

  // Uploads every file under dir to container/prefix/<relpath>; returns the count.
  async uploadDir(dir, container, prefix) {
    let count = 0;
    const walk = async (sub) => {
      let entries;
      try {
        entries = await fs.promises.readdir(path.join(dir, sub), { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const rel = sub ? `${sub}/${entry.name}` : entry.name;
        const full = path.join(dir, rel);
        const stat = await fs.promises.stat(full).catch(() => null);
        if (!stat) continue;
        if (stat.isDirectory()) await walk(rel);
        else if (stat.isFile()) {
          await this.container(container).getBlockBlobClient(prefix ? `${prefix}/${rel}` : rel).uploadFile(full);
          count += 1;
        }
      }
    };
    await walk('');
    return count;
  }

  appendBlob(container, name) {
    return this.container(container).getAppendBlobClient(name);
  }
}

module.exports = { Blobs, DEV_ACCOUNT, DEV_KEY };
