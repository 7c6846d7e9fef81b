/**
 * Lots in memory, with DynamoLotStore's semantics: every call yields to the
 * event loop first (a round trip), then checks and writes in one go, as one
 * conditional DynamoDB request does; copies in and out.
 */
import type { LotRecord, LotStore } from '../../src/service/ports.js';

const copy = <T>(v: T): T => structuredClone(v);
const tick = () => new Promise<void>((r) => setImmediate(r));

export class MemoryLotStore implements LotStore {
  readonly lots = new Map<string, LotRecord>();
  /** Seat requests made, taken or not. */
  seatRequests = 0;
  /** The next takeSeat lands and then fails (its answer lost), when set. */
  failNextSeatAfterWrite?: Error;

  async createLot(lot: LotRecord): Promise<LotRecord | undefined> {
    await tick();
    const held = this.lots.get(lot.lotId);
    if (held) return copy(held);
    this.lots.set(lot.lotId, copy(lot));
    return undefined;
  }

  async getLot(lotId: string): Promise<LotRecord | undefined> {
    await tick();
    const lot = this.lots.get(lotId);
    return lot && copy(lot);
  }

  async takeSeat(lotId: string, now: string): Promise<{ taken: true; lot: LotRecord } | { taken: false; lot: LotRecord | undefined }> {
    await tick();
    this.seatRequests++;
    const lot = this.lots.get(lotId);
    if (!lot || lot.status !== 'OPEN' || !(lot.closesAt > now) || !(lot.issued < lot.quota)) return { taken: false, lot: lot && copy(lot) };
    lot.issued++;
    const fault = this.failNextSeatAfterWrite;
    if (fault) {
      this.failNextSeatAfterWrite = undefined;
      throw fault;
    }
    return { taken: true, lot: copy(lot) };
  }

  async releaseSeat(lotId: string): Promise<void> {
    await tick();
    const lot = this.lots.get(lotId);
    if (lot && lot.issued > 0) lot.issued--;
  }

  async closeLot(lotId: string, at: string, by: string): Promise<LotRecord | undefined> {
    await tick();
    const lot = this.lots.get(lotId);
    if (lot?.status === 'OPEN') Object.assign(lot, { status: 'CLOSED', closedAt: at, closedBy: by });
    return lot && copy(lot);
  }
}
