/**
 * @module frontends/web
 * The web frontend: a page bundle (page/, built by esbuild into dist/web at
 * `npm run build`) that speaks the normal protocol over WebSocket, and the
 * small server side the daemon needs to serve it (server/): the files with
 * strict headers. The daemon's listener does the rest (Host/Origin checks,
 * one-time tickets), see src/net/browser-origin.ts and browser-tickets.ts.
 *
 *   memweave web ──ticket──▶ daemon ──▶ http://127.0.0.1:PORT/#ticket=T
 *   browser GET / ──▶ page-files (CSP, nosniff) ; WebSocket hello{ticket} ──▶ session
 */
export { defaultPageDirectory, loadPageFiles } from './server/page-files.js'
export { securityHeaders } from './server/security-headers.js'
export { browserUrl, openInBrowser } from './server/browser-url.js'
