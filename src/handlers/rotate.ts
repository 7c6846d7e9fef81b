import { getApp } from '../app.js';
import { rotationJob } from '../jobs/lifecycle-jobs.js';

// Configuration is validated at cold start. Invoked daily by EventBridge ({"force": true} rotates now).
getApp();
export const handler = rotationJob(getApp);
