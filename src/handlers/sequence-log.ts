import { loadConfig } from '../config/config.js';
import { composeLogSequencing } from '../compose/log.js';
import { logJob } from '../jobs/log-job.js';

// Configuration is validated and clients are built at cold start. Invoked every minute by EventBridge (reserved concurrency 1).
export const handler = logJob(composeLogSequencing(loadConfig()));
