import { loadConfig } from '../config/config.js';
import { composeCrlPublishing } from '../compose/crl.js';
import { crlJob } from '../jobs/crl-job.js';

// Configuration is validated and clients are built at cold start. Invoked every minute by EventBridge.
export const handler = crlJob(composeCrlPublishing(loadConfig()));
