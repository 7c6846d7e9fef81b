'use strict';

/**
 * Serverless Framework v3 has no setting for REST API stage throttling. This
 * plugin adds it to the stage the deployment creates (Deployment.StageDescription),
 * from custom.apiThrottling { rateLimit, burstLimit }, so a burst of requests
 * cannot exhaust the account's KMS signing quota. It also writes X-Ray tracing
 * (provider.tracing.apiGateway) there, so the template itself says the stage is
 * traced rather than a call made after deployment.
 */
class StageThrottling {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.apply() };
  }

  apply() {
    const service = this.serverless.service;
    const settings = (service.custom && service.custom.apiThrottling) || {};
    const rate = Number(settings.rateLimit);
    const burst = Number(settings.burstLimit);
    if (!Number.isFinite(rate) || !Number.isFinite(burst)) {
      throw new Error('custom.apiThrottling needs numeric rateLimit and burstLimit');
    }
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    for (const resource of Object.values(resources)) {
      if (resource.Type !== 'AWS::ApiGateway::Deployment') continue;
      const tracing = Boolean(service.provider.tracing && service.provider.tracing.apiGateway);
      resource.Properties.StageDescription = {
        ...(resource.Properties.StageDescription || {}),
        ...(tracing ? { TracingEnabled: true } : {}),
        ThrottlingRateLimit: rate,
        ThrottlingBurstLimit: burst,
        MethodSettings: [
          { ResourcePath: '/*', HttpMethod: '*', ThrottlingRateLimit: rate, ThrottlingBurstLimit: burst },
        ],
      };
    }
  }
}

module.exports = StageThrottling;
