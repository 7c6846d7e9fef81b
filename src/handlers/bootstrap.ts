import { getApp } from '../app.js';
import { bootstrapJob } from '../jobs/lifecycle-jobs.js';

// Configuration is validated at cold start.
getApp();
export const handler = bootstrapJob(getApp);
