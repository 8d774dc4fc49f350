import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { BlobError, type BlobStore } from '../../storage/blob-store.js';
import { checkFilename, filenameOf, objectKey } from '../../storage/files.js';
import type { UrlSigner } from '../../storage/url-signer.js';
import { callerOf } from '../auth.js';
import { GantryError, errors } from '../../contract/errors.js';
import {
  MultipartAbortRequest,
  MultipartCompleteRequest,
  MultipartInitRequest,
  MultipartInitResponse,
  SignedQuery,
  StoredFile,
  UploadRequest,
  UploadResponse,
  type MultipartAbortBody,
  type MultipartCompleteBody,
  type MultipartInitBody,
  type UploadRequestBody,
} from '../../contract/schemas/storage.js';
import { errorResponses } from '../../contract/schemas/common.js';
import type { Caller } from '../../contract/ports.js';

export interface StorageDeps {
  blobs: BlobStore;
  signer: UrlSigner;
  /** This server's URL as clients and replicas reach it (`--public-url`, else the bound address). */
  publicUrl: () => string;
  /** Refuses a write the caller may not make (a worker key writes only its jobs' outputs). */
  checkWrite: (caller: Caller, filename: string) => Promise<void>;
  /** Refuses a read the caller's key may not make (a worker key outside its volumes and outputs). */
  checkRead: (caller: Caller, filename: string) => Promise<void>;
}

/** How long a signed URL stays valid. */
const URL_TTL_SECONDS = 15 * 60;
const tags = ['Storage'];
/** Workers upload their outputs and read their inputs with their deployment's key. */
const config = { workerRoute: true };

const encodePath = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/**
 * A signed URL on this server's configured address, never on the request's Host header: a
 * forged Host must not send an upload (or a download link) elsewhere.
 */
function signedUrl(deps: StorageDeps, method: string, path: string) {
  return { url: `${deps.publicUrl()}${encodePath(path)}?${deps.signer.sign(method, path, URL_TTL_SECONDS)}`, method, headers: {} };
}

const objectPath = (key: string) => `/storage/objects/${key}`;
const partPath = (uploadId: string, n: number) => `/storage/uploads/${uploadId}/${n}`;

function blobError(err: unknown): never {
  if (!(err instanceof BlobError)) throw err;
  if (err.kind === 'no_upload') throw new GantryError('not_found', err.message, 'upload_id');
  if (err.kind === 'conflict') throw errors.conflict(err.message, 'conflict', 'filename');
  throw errors.invalid('parts', `parts: ${err.message}`);
}

/** `/v1/storage/*` and `/v1/deployments/storage/{filename}`: Together's storage API (authenticated). */
export function storageRoutes(app: FastifyInstance, deps: StorageDeps) {
  const { blobs } = deps;
  app.post<{ Body: UploadRequestBody }>(
    '/storage/upload-request',
    {
      config,
      schema: { tags, summary: 'A signed URL to upload one file to', body: UploadRequest, response: { 200: UploadResponse, ...errorResponses } },
    },
    async (req) => {
      checkFilename(req.body.filename, 'filename');
      await deps.checkWrite(callerOf(req), req.body.filename);
      return { upload_url: signedUrl(deps, 'PUT', objectPath(objectKey(callerOf(req).projectId, req.body.filename))) };
    },
  );

  app.post<{ Body: MultipartInitBody }>(
    '/storage/multipart/init',
    {
      config,
      schema: { tags, summary: 'Start a multipart upload', body: MultipartInitRequest, response: { 200: MultipartInitResponse, ...errorResponses } },
    },
    async (req) => {
      checkFilename(req.body.filename, 'filename');
      await deps.checkWrite(callerOf(req), req.body.filename);
      const uploadId = await blobs.createMultipart(objectKey(callerOf(req).projectId, req.body.filename));
      const part_upload_urls = Array.from({ length: req.body.parts_count }, (_, i) => ({
        part_number: i + 1,
        ...signedUrl(deps, 'PUT', partPath(uploadId, i + 1)),
      }));
      return { upload_id: uploadId, part_upload_urls };
    },
  );

  app.post<{ Body: MultipartCompleteBody }>(
    '/storage/multipart/complete',
    {
      config,
      schema: { tags, summary: 'Join the uploaded parts into the file', body: MultipartCompleteRequest, response: { 200: StoredFile, ...errorResponses } },
    },
    async (req) => {
      const { filename, upload_id, parts } = req.body;
      checkFilename(filename, 'filename');
      await deps.checkWrite(callerOf(req), filename);
      if (parts.some((p, i) => i > 0 && p.part_number <= parts[i - 1]!.part_number)) {
        throw errors.invalid('parts', 'parts: part numbers must be in ascending order, each once');
      }
      const written = await blobs
        .completeMultipart(
          upload_id,
          objectKey(callerOf(req).projectId, filename),
          parts.map((p) => ({ partNumber: p.part_number, etag: p.etag.replace(/"/g, '') })),
        )
        .catch(blobError);
      return { object: 'file' as const, filename, size: written.size, etag: written.etag };
    },
  );

  app.post<{ Body: MultipartAbortBody }>(
    '/storage/multipart/abort',
    {
      config,
      schema: {
        tags,
        summary: 'Drop a multipart upload and its parts',
        body: MultipartAbortRequest,
        response: { 200: { type: 'object', properties: { aborted: { type: 'boolean' } } }, ...errorResponses },
      },
    },
    async (req) => {
      checkFilename(req.body.filename, 'filename');
      if (!(await blobs.abortMultipart(req.body.upload_id, objectKey(callerOf(req).projectId, req.body.filename)))) {
        blobError(new BlobError('no_upload', `no multipart upload '${req.body.upload_id}' for '${req.body.filename}'`));
      }
      return { aborted: true };
    },
  );

  // Downloads answer 307 to a signed URL (as Together's do), so a client following redirects
  // gets the bytes; the old `/v1/storage/{name}` path is what sprocket puts in job outputs.
  const download = async (req: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
    const filename = req.params['*'];
    checkFilename(filename, 'filename');
    await deps.checkRead(callerOf(req), filename);
    const key = objectKey(callerOf(req).projectId, filename);
    if (!(await blobs.stat(key))) throw errors.notFound('File', filename);
    return reply.redirect(signedUrl(deps, 'GET', objectPath(key)).url, 307);
  };
  const downloadSchema = { tags, summary: 'Download a file (307 to a signed URL)', response: errorResponses };
  app.get('/storage/*', { config, schema: downloadSchema }, download);
  app.get('/deployments/storage/*', { config, schema: downloadSchema }, download);
}

/**
 * `/storage/objects/*` and `/storage/uploads/{id}/{n}`: where signed URLs point. No API key:
 * the signature is the authorisation. Bodies are streamed to the store, never buffered.
 */
export async function signedStorageRoutes(app: FastifyInstance, { blobs, signer }: StorageDeps) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  type Signed = { Querystring: Static<typeof SignedQuery> };
  const verify = (req: FastifyRequest<Signed>, path: string) => {
    // A HEAD is the GET it was signed for, without the body.
    const refused = signer.check(req.method === 'HEAD' ? 'GET' : req.method, path, req.query.expires, req.query.signature);
    if (refused) throw errors.forbidden(refused);
  };
  const schema = { hide: true, querystring: SignedQuery };

  app.put<Signed & { Params: { '*': string } }>('/storage/objects/*', { schema }, async (req, reply) => {
    const key = req.params['*'];
    verify(req, objectPath(key));
    const written = await blobs.put(key, req.raw).catch(blobError);
    return reply.header('etag', `"${written.etag}"`).send({ object: 'file', size: written.size, etag: written.etag });
  });

  app.get<Signed & { Params: { '*': string } }>('/storage/objects/*', { schema }, async (req, reply) => {
    const key = req.params['*'];
    verify(req, objectPath(key));
    const file = await blobs.open(key);
    if (!file) throw errors.notFound('File', filenameOf(key));
    const name = key.slice(key.lastIndexOf('/') + 1);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', String(file.info.size))
      .header('last-modified', new Date(file.info.lastModified).toUTCString())
      .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`)
      .send(file.body);
  });

  app.put<Signed & { Params: { id: string; n: string } }>('/storage/uploads/:id/:n', { schema }, async (req, reply) => {
    const n = Number(req.params.n);
    verify(req, partPath(req.params.id, n));
    const etag = await blobs.putPart(req.params.id, n, req.raw).catch(blobError);
    return reply.header('etag', `"${etag}"`).send({ part_number: n, etag });
  });
}
