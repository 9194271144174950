// Shared by the browser tests: the running `cie demo` they test (its demo.json, named
// by CIE_DEMO_JSON), the folder for screenshots (CIE_SCREENSHOTS), and Debian's
// Chromium started headless (CHROMIUM names another binary).
import { readFileSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const demoPath = process.env.CIE_DEMO_JSON;
// The viewer test runs without a demo: demo is undefined then.
export const demo = demoPath ? JSON.parse(readFileSync(demoPath, 'utf8')) : undefined;
export const shots = process.env.CIE_SCREENSHOTS || 'screenshots';
mkdirSync(shots, { recursive: true });

export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
