import { loadConfig } from '../config/config.js';
import { composeLifecycle } from '../compose/operations.js';
import { bootstrapJob } from '../jobs/lifecycle-jobs.js';

// Configuration is validated and clients are built at cold start.
export const handler = bootstrapJob(composeLifecycle(loadConfig()));
