// Drives the gateway's live-inbox page in Debian's Chromium with playwright-core.
//   node inbox_page.mjs '{"url": "...", "token": "...", "publisherToken": "...", "user": "...",
//                         "screenshot": "/path.png"}'
// Prints one JSON object with what a person would have seen; exits non-zero on failure.
import { chromium } from "playwright-core";

const options = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = { consoleErrors: [] };
try {
  const page = await browser.newPage();
  page.on("console", (msg) => { if (msg.type() === "error") result.consoleErrors.push(msg.text()); });
  page.on("pageerror", (err) => result.consoleErrors.push(String(err)));
  await page.goto(options.url, { waitUntil: "load" });
  result.title = await page.title();
  await page.fill("#token", options.token);
  await page.click("#connect");
  await page.waitForSelector("#status.on", { timeout: 10000 });
  result.status = await page.textContent("#status");

  // Publish the way a service would, while the page is open.
  const response = await fetch(`${options.url}/api/notifications`, {
    method: "POST",
    headers: { Authorization: `Bearer ${options.publisherToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ user: options.user, title: "Shown live", body: "from the test" }),
  });
  result.published = await response.json();
  await page.waitForSelector(`li[data-id="${result.published.id}"]`, { timeout: 10000 });
  result.itemText = await page.textContent(`li[data-id="${result.published.id}"] .title`);
  result.unreadBefore = await page.textContent("#unread");

  await page.click(`li[data-id="${result.published.id}"] button.mark-read`);
  await page.waitForFunction(() => document.querySelector("#unread").textContent === "0",
                             null, { timeout: 10000 });
  result.unreadAfter = await page.textContent("#unread");
  if (options.screenshot) await page.screenshot({ path: options.screenshot, fullPage: true });
  console.log(JSON.stringify(result));
} catch (err) {
  result.error = String(err);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
} finally {
  await browser.close();
}
