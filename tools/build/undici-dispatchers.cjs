'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS, as undici's own index.js is. */
// undici as the tools' bundles hold it (undici-dispatchers.mjs loads this in place of
// undici's index.js, its require()s resolved from undici's directory): the connection pools ag uses
// (packages/core/src/lazy-modules.ts, UndiciDispatchers), nothing else. undici's index also builds fetch,
// WebSocket, EventSource, the cache and cookie helpers and the mocks at load: ~20 ms of a pull's start, and
// its cookies module reads globalThis.Headers, which makes Node.js load and run its own bundled undici.
// The file names are undici 7's (github.com/nodejs/undici, index.js); a build against an undici that moved
// them fails here, at bundling.

const Dispatcher = require('./lib/dispatcher/dispatcher');
// What index.js does first: request(), stream(), pipeline(), upgrade(), connect() on every dispatcher.
Object.assign(Dispatcher.prototype, require('./lib/api'));

module.exports.Agent = require('./lib/dispatcher/agent');
module.exports.EnvHttpProxyAgent = require('./lib/dispatcher/env-http-proxy-agent');
