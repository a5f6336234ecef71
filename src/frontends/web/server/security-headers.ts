/**
 * The headers every response of the web page carries. The page shows memory
 * an attacker may have written (process names, command lines, strings), so
 * the browser is told to run nothing but our own bundle: no inline script or
 * style, no other origin, no framing, no sniffing, no referrer; the only
 * connection allowed is the WebSocket back to this daemon, on the name the
 * page was loaded from.
 */
export function securityHeaders(socketOrigin: string): Record<string, string> {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${socketOrigin}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ')
  return {
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
  }
}
