import { loadConfig } from '../config/config.js';
import { composeLifecycle } from '../compose/operations.js';
import { rotationJob } from '../jobs/lifecycle-jobs.js';

// Configuration is validated and clients are built at cold start. Invoked daily by EventBridge ({"force": true} rotates now).
export const handler = rotationJob(composeLifecycle(loadConfig()));
