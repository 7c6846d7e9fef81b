/**
 * A stand-in for the API's issuance log and lot routes on a local port,
 * answering from a log in memory (test/unit/log/lot-log.ts) as the
 * specification describes them: GET /log/checkpoint (JSON), /lots/{lotId}
 * (its "log" view), /certificates?lotId= (paged), /log/proof/{serial} and
 * /log/entries/{index} (?treeSize=N, a published checkpoint's size).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { LotLog } from '../log/lot-log.js';

export interface LogApi {
  url: string;
  /** Every request's path and query, in order. */
  seen: string[];
  close(): Promise<void>;
}

export interface LogApiOptions {
  /** The published checkpoints' sizes (default: the whole log's). */
  published?: number[];
  /** Page size of GET /certificates. */
  pageSize?: number;
  /** The lot's certificates the list leaves out (by serial number). */
  unlisted?: string[];
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
const error = (code: string, message: string) => ({ error: { code, message } });

export async function startLogApi(lot: LotLog, options: LogApiOptions = {}): Promise<LogApi> {
  const { log } = lot;
  const published = options.published ?? [log.size];
  const latest = Math.max(...published);
  const checkpoints = new Map<number, string>();
  for (const size of published) checkpoints.set(size, await log.checkpoint(size));
  const seen: string[] = [];
  // Listed newest first, as a store index might: the report orders them by lotSeq.
  const listed = lot.certificates.filter((c) => !options.unlisted?.includes(c.serialNumber)).reverse();

  const proofAnswer = async (index: number, size: number) => {
    const p = await log.prove(index, size);
    return { leafIndex: index, treeSize: size, entry: p.entry, leafHash: 'ignored', auditPath: p.auditPath, checkpoint: checkpoints.get(size) };
  };

  async function route(u: URL, res: ServerResponse) {
    const size = u.searchParams.has('treeSize') ? Number(u.searchParams.get('treeSize')) : latest;
    if (!checkpoints.has(size)) return send(res, 400, error('INVALID_REQUEST', `no checkpoint of size ${size}`));
    if (u.pathname === '/log/checkpoint') return send(res, 200, { checkpoint: checkpoints.get(latest), treeSize: latest, rootHash: Buffer.from(log.tree.root(latest)).toString('hex') });
    const lotPath = /^\/lots\/(.+)$/.exec(u.pathname);
    if (lotPath) {
      if (decodeURIComponent(lotPath[1]!) !== lot.lotId) return send(res, 404, error('NOT_FOUND', 'no such lot'));
      const logged = lot.certificates.filter((c) => c.index < log.size).length;
      return send(res, 200, { lotId: lot.lotId, quota: lot.quota, status: 'CLOSED', log: { openedIndex: lot.openedIndex, ...(lot.closedIndex === undefined ? {} : { closedIndex: lot.closedIndex }), logged } });
    }
    if (u.pathname === '/certificates') {
      if (u.searchParams.get('lotId') !== lot.lotId) return send(res, 200, { items: [] });
      const pageSize = options.pageSize ?? Number(u.searchParams.get('limit') ?? 100);
      const start = Number(u.searchParams.get('next') ?? 0);
      const items = listed.slice(start, start + pageSize).map((c) => ({ serialNumber: c.serialNumber, certificatePem: c.pem.replace(/\n/g, '\r\n'), status: 'ISSUED' }));
      return send(res, 200, { items, ...(start + pageSize < listed.length ? { next: String(start + pageSize) } : {}) });
    }
    const proof = /^\/log\/proof\/([0-9a-f]+)$/.exec(u.pathname);
    if (proof) {
      const c = [...lot.certificates, ...lot.strangers].find((x) => x.serialNumber === proof[1]);
      if (!c) return send(res, 404, error('NOT_FOUND', 'no such certificate'));
      if (c.index >= size) return send(res, 404, error('LOG_ENTRY_NOT_SEQUENCED', `not sequenced in the checkpoint of size ${size}`));
      const answer = await proofAnswer(c.index, size);
      const revoked = 'revocationIndex' in c && c.revocationIndex !== undefined && c.revocationIndex < size ? await log.prove(c.revocationIndex, size) : undefined;
      return send(res, 200, { ...answer, ...(revoked ? { revocation: { ...revoked, leafHash: 'ignored' } } : {}) });
    }
    const entry = /^\/log\/entries\/(\d+)$/.exec(u.pathname);
    if (entry) {
      const index = Number(entry[1]);
      if (index >= size) return send(res, 404, error('LOG_ENTRY_NOT_SEQUENCED', `not sequenced in the checkpoint of size ${size}`));
      return send(res, 200, await proofAnswer(index, size));
    }
    send(res, 404, error('NOT_FOUND', 'no such route'));
  }

  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://localhost');
    seen.push(`${u.pathname}${u.search}`);
    route(u, res).catch((e: Error) => send(res, 500, error('INTERNAL', e.message)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
