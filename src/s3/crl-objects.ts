/**
 * Published CRLs: objects in the stage's S3 bucket (versioned, private; the API
 * serves them), or files under the local state directory in local mode.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isTransientAwsError } from '../aws/transient.js';
import { CaError } from '../service/errors.js';
import type { CrlObjects } from '../service/ports.js';

/** A CRL (`crl/<ca>/<number>.crl`), or a copy of an issuance log checkpoint (`log/checkpoints/<tree size>`). */
const KEY = /^(crl\/[a-z0-9-]{1,64}\/[0-9]{1,15}\.crl|log\/checkpoints\/(0|[1-9][0-9]{0,15}))$/;

function checkedKey(key: string): string {
  if (!KEY.test(key)) throw new CaError('INTERNAL', 'Invalid CRL object key', { logDetail: `CRL object key ${JSON.stringify(key)}` });
  return key;
}

/** An S3 failure as a domain error: CRL_STORE_UNAVAILABLE to retry, INTERNAL otherwise. */
function s3Error(e: unknown): CaError {
  if (isTransientAwsError(e)) return new CaError('STORE_UNAVAILABLE', 'The CRL store is temporarily unavailable', { cause: e, retryAfterSeconds: 2 });
  return new CaError('INTERNAL', 'The CRL store failed', { cause: e });
}

export function s3CrlObjects(s3: S3Client, bucket: string): CrlObjects {
  return {
    async put(key, der) {
      try {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: checkedKey(key), Body: der, ContentType: key.startsWith('log/') ? 'text/plain; charset=utf-8' : 'application/pkix-crl' }));
      } catch (e) {
        throw s3Error(e);
      }
    },
    async get(key) {
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: checkedKey(key) }));
        return out.Body ? new Uint8Array(await out.Body.transformToByteArray()) : undefined;
      } catch (e) {
        if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') return undefined;
        throw s3Error(e);
      }
    },
  };
}

/** Local mode: `<stateDir>/<key>`, written to a temporary file and renamed, so a reader never sees half a CRL. */
export function fileCrlObjects(stateDir: string): CrlObjects {
  const root = resolve(stateDir);
  const pathOf = (key: string) => {
    const path = resolve(root, checkedKey(key));
    if (!path.startsWith(root + sep)) throw new CaError('INTERNAL', 'Invalid CRL object key', { logDetail: key });
    return path;
  };
  return {
    async put(key, der) {
      const path = pathOf(key);
      mkdirSync(dirname(path), { recursive: true });
      const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
      writeFileSync(tmp, der);
      renameSync(tmp, path);
    },
    async get(key) {
      try {
        return new Uint8Array(readFileSync(pathOf(key)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
  };
}
