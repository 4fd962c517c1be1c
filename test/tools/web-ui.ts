/**
 * The real Temporal Web UI (ui-server, which embeds the built UI) pointed at a Temporal address,
 * and a headless Chromium (Debian's, driven by playwright-core) to look at it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { waitFor } from '../helpers/pg';
import { ROOT } from '../helpers/service-process';
import { requireTool } from './fixture';

/** Debian's Chromium (`apt-get install -y chromium`); Playwright's own browser download is not used. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots kept as test artifacts (ignored by git). */
export const SCREENSHOT_DIR = join(ROOT, '.scratch', 'ui-screenshots');

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface UiServer {
  /** http://127.0.0.1:<port> */
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Start ui-server for `temporalAddress` on a free port, with its config in a fresh folder
 * (`<root>/config/development.yaml`), and wait until it serves the UI.
 */
export async function startUiServer(temporalAddress: string): Promise<UiServer> {
  const bin = requireTool('ui-server');
  const root = mkdtempSync(join(tmpdir(), 'ui-server-'));
  mkdirSync(join(root, 'config'));
  const port = await freePort();
  writeFileSync(join(root, 'config', 'development.yaml'), [
    `temporalGrpcAddress: ${temporalAddress}`,
    'host: 127.0.0.1',
    `port: ${port}`,
    'enableUi: true',
    'defaultNamespace: default',
    // The UI polls counts itself; a short refresh keeps the tests' waits short.
    'refreshInterval: 1s',
    '',
  ].join('\n'));
  const child: ChildProcess = spawn(bin, ['--root', root, '--config', 'config', '--env', 'development', 'start'], {
    env: { PATH: process.env.PATH ?? '', HOME: root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await waitFor(`ui-server on ${url} (output: ${out.slice(-300)})`, async () => {
      if (child.exitCode !== null) throw new Error(`ui-server exited ${String(child.exitCode)}: ${out}`);
      try {
        return (await fetch(`${url}/api/v1/settings`)).ok;
      } catch {
        return false;
      }
    }, 60_000, 200);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, output: () => out, stop };
}

export interface HeadlessBrowser {
  browser: Browser;
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launch Debian's Chromium headless with a fresh profile and no background networking (this
 * machine's network is closed; Chromium's own update and sync connections would only fail).
 * @throws Error saying how to install Chromium when it is missing
 */
export async function launchBrowser(): Promise<HeadlessBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`npm run test:tools needs Chromium at ${CHROMIUM}, which does not exist: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const browser = context.browser()!;
  return {
    browser,
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Save a screenshot under `.scratch/ui-screenshots/<name>.png` and return its path. */
export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return join(SCREENSHOT_DIR, `${name}.png`);
}
