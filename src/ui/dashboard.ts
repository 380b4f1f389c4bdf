import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/**
 * The web dashboard at /ui/ (contract §8): static ES modules in src/ui/public, plus
 * Preact, its hooks and htm served from node_modules (no build step, nothing from a CDN).
 * The page calls only the public API, with the signed-in application's token, so what it
 * shows is exactly what the API lets that application see.
 */

/**
 * No inline script or style, nothing from another origin: the page is its own files and
 * the API. Every tenant-supplied string is rendered as text by Preact, and this policy is
 * the second line: injected markup could not run a script even if it got in.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** The browser names of the vendored modules and the package entry each one is. */
const VENDOR = { 'preact.js': 'preact', 'hooks.js': 'preact/hooks', 'htm.js': 'htm' } as const;

/**
 * A vendored module with its bare imports ("preact") turned into the sibling files the
 * server serves ("./preact.js"): the browser resolves no bare specifiers without an
 * import map, and an inline import map would need the CSP to allow inline script.
 */
export function vendorModule(source: string, name: string): string {
  const byPackage = new Map<string, string>(Object.entries(VENDOR).map(([file, pkg]) => [pkg, `./${file}`]));
  const out = source
    .replace(/(\b(?:from|import)\s*)(["'])([^"'./][^"']*)\2/g, (whole, keyword: string, quote: string, spec: string) => {
      const local = byPackage.get(spec);
      if (local === undefined) throw new Error(`${name} imports ${spec}, which the dashboard does not serve`);
      return `${keyword}${quote}${local}${quote}`;
    })
    // Source maps are not shipped: the browser would ask for them and get a 404.
    .replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
  return out;
}

function loadVendor(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [file, pkg] of Object.entries(VENDOR)) {
    files.set(file, vendorModule(readFileSync(fileURLToPath(import.meta.resolve(pkg)), 'utf8'), pkg));
  }
  return files;
}

const SIGN_IN_META = '<meta name="itwin-webhooks-sign-in" content="client-credentials">';

/**
 * `signIn`: how applications get a token here, client credentials at the built-in issuer or
 * a bearer token of an external one; the page reads it from its own markup, so it need not
 * ask (and, with an external issuer, get a 404 in the browser's console).
 */
export const dashboardRoutes =
  (options: { signIn: 'client-credentials' | 'token' }): FastifyPluginAsync =>
  async (app) => {
    const vendor = loadVendor();
    const publicDir = fileURLToPath(new URL('./public/', import.meta.url));
    const index = readFileSync(`${publicDir}index.html`, 'utf8');
    if (!index.includes(SIGN_IN_META)) throw new Error('src/ui/public/index.html lost its sign-in meta tag');
    const page = index.replace(SIGN_IN_META, SIGN_IN_META.replace('client-credentials', options.signIn));
    app.addHook('onSend', async (_request, reply) => {
      reply.headers(SECURITY_HEADERS);
    });
    // The page's own files change with the server: revalidate (ETag) rather than cache.
    await app.register(fastifyStatic, {
      root: publicDir,
      prefix: '/ui/',
      wildcard: false,
      index: false,
      allowedPath: (path) => path !== '/index.html',
      cacheControl: false,
      decorateReply: false,
      setHeaders: (reply) => reply.header('cache-control', 'no-cache'),
    });
    app.get('/ui/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page));
    app.get('/ui/vendor/:file', { schema: { hide: true } }, async (request, reply) => {
      const body = vendor.get((request.params as { file: string }).file);
      if (body === undefined) return reply.callNotFound();
      return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(body);
    });
  };
