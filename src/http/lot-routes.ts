/** The lot routes: an operator opens, reads and closes production lots. */
import type { LotFunction } from '../compose/lots.js';
import { closeLot, getLot, lotView, openLot } from '../service/lots.js';
import { httpFunction, json } from './edge.js';
import { readLotId, readLotRequest, stationIdOf } from './requests.js';

/** POST /lots: 201 with the new lot, 200 when the same lot is sent again, 409 LOT_EXISTS for another lot under its id. */
export const openLotRoute = (fn: LotFunction) =>
  httpFunction('POST /lots', fn, async (event, { log }) => {
    const body = readLotRequest(event, fn.http.maxBodyBytes);
    log.operator = stationIdOf(event, fn.http.trustStationHeader);
    const { lot, created } = await openLot(fn.lots, body, log.operator as string);
    Object.assign(log, { lotId: lot.lotId, quota: lot.quota, created });
    return json(created ? 201 : 200, lotView(lot, fn.lots.clock()));
  });

export const getLotRoute = (fn: LotFunction) =>
  httpFunction('GET /lots/{lotId}', fn, async (event, { log }) => {
    log.lotId = readLotId(event);
    return json(200, lotView(await getLot(fn.lots, log.lotId as string), fn.lots.clock()));
  });

/** POST /lots/{lotId}/close: closed at once (a lot closed already is answered as it is). */
export const closeLotRoute = (fn: LotFunction) =>
  httpFunction('POST /lots/{lotId}/close', fn, async (event, { log }) => {
    log.lotId = readLotId(event);
    log.operator = stationIdOf(event, fn.http.trustStationHeader);
    return json(200, lotView(await closeLot(fn.lots, log.lotId as string, log.operator as string), fn.lots.clock()));
  });
