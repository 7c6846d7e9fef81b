'use strict';

/**
 * The optional custom domain with mutual TLS for EST re-enrollment
 * (resources EstDomainName and EstBasePathMapping, created only when the
 * estDomainName param is set). A base path mapping names the stage, which the
 * deployment creates; Serverless Framework v3 gives the deployment a new
 * logical id on every package, so the dependency is added here, once the
 * template is compiled.
 */
class EstDomain {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.apply() };
  }

  apply() {
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    // serverless.yml's own resources are merged into the template after this hook: the mapping is still there.
    const mapping = ((this.serverless.service.resources || {}).Resources || {}).EstBasePathMapping;
    if (!mapping) return;
    const deployments = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::ApiGateway::Deployment');
    if (deployments.length !== 1) throw new Error(`EstBasePathMapping needs the one API deployment, found ${deployments.length}`);
    mapping.DependsOn = [...new Set([...[].concat(mapping.DependsOn || []), deployments[0]])];
  }
}

module.exports = EstDomain;
