#!/usr/bin/env node
// The `factory-ca` command. The command line is TypeScript (src/cli/), compiled
// as it loads by tsx, which a checkout of factory-ca has installed: run it with
// `npx factory-ca` in the checkout, or `npm i -g .` from it (a link to the checkout).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let tsImport;
try {
  ({ tsImport } = await import('tsx/esm/api'));
} catch {
  process.stderr.write(
    'factory-ca: tsx is not installed beside this command. Run it from a checkout of factory-ca\n' +
      'with its dependencies installed (npm ci), or install it from one with `npm i -g .`.\n',
  );
  process.exit(1);
}
await tsImport('../src/cli/main.ts', import.meta.url);
