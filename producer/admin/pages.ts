/**
 * The admin console's files: plain HTML, stylesheets and small scripts, read once at start and
 * served from memory, with the chart library (uPlot) from its npm package. No framework, no
 * CDN: the pages work offline.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const read = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
const fromPackage = (path: string) => readFileSync(createRequire(import.meta.url).resolve(path), 'utf8');

const CONSOLE_HTML = read('console.html');
const LOGIN_HTML = read('login.html');
const REQUESTS_HTML = read('requests.html');
const COMPARE_HTML = read('compare.html');

export interface PageOptions {
  readonly authDisabled: boolean;
  /** The admin's name, shown beside Log out (null with auth off). */
  readonly signedInAs: string | null;
}

/** The request log and one request's page (one document; its script reads the path). */
export function requestsPage(options: PageOptions): string {
  return withSession(REQUESTS_HTML, options);
}

/** Two models' latest workflows for similar goals, side by side. */
export function comparePage(options: PageOptions): string {
  return withSession(COMPARE_HTML, options);
}

const ASSETS: Record<string, { contentType: string; body: string; etag: string }> = Object.fromEntries(
  [
    ['console-kit.js', 'text/javascript; charset=utf-8'],
    ['admin.js', 'text/javascript; charset=utf-8'],
    ['admin.css', 'text/css; charset=utf-8'],
    ['models.js', 'text/javascript; charset=utf-8'],
    ['models.css', 'text/css; charset=utf-8'],
    ['requests.js', 'text/javascript; charset=utf-8'],
    ['presets.js', 'text/javascript; charset=utf-8'],
    ['ladder.js', 'text/javascript; charset=utf-8'],
    ['spend.js', 'text/javascript; charset=utf-8'],
    ['compare.js', 'text/javascript; charset=utf-8'],
    ['uPlot.iife.min.js', 'text/javascript; charset=utf-8', 'uplot/dist/uPlot.iife.min.js'],
    ['uPlot.min.css', 'text/css; charset=utf-8', 'uplot/dist/uPlot.min.css'],
  ].map(([name, contentType, packagePath]) => {
    const body = packagePath ? fromPackage(packagePath) : read(name!);
    return [name, { contentType: contentType!, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` }];
  }),
);

/** Headers of every admin page response: scripts and styles only from here, no framing. */
export const ADMIN_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
  'x-frame-options': 'DENY',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const LOGOUT_FORM = '<form method="post" action="/admin/logout"><button type="submit" class="link" data-testid="logout">Log out</button></form>';

/** Who is signed in and Log out, in a page's header; with auth off there is no session to end, so neither. */
function withSession(html: string, options: PageOptions): string {
  const who = options.signedInAs === null ? '' : `<span class="muted small" data-testid="signed-in-as">Signed in as ${escapeHtml(options.signedInAs)}</span>`;
  return html.replace('<!--LOGOUT-->', options.authDisabled ? '' : who + LOGOUT_FORM);
}

export function consolePage(options: PageOptions): string {
  return withSession(CONSOLE_HTML, options).replace('<!--AUTH-NOTICE-->', options.authDisabled ? '<p class="banner warn" data-testid="auth-disabled">AUTH_DISABLED=true: no access control. Demo and test use only.</p>' : '');
}

export function loginPage(error: string | null): string {
  return LOGIN_HTML.replace('<!--ERROR-->', error ? `<p class="banner error" role="alert" data-testid="login-error">${escapeHtml(error)}</p>` : '');
}

export function adminAsset(name: string): { contentType: string; body: string; etag: string } | undefined {
  return Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
}
