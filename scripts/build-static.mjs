// Copies the front-end libraries installed by `npm ci` into civicloop/web/static/vendor/,
// where Django's staticfiles finds them. No CDN: government networks are closed.
// Run from the repository root: `node scripts/build-static.mjs` (or `make static`).
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const vendor = join(root, "civicloop", "web", "static", "vendor");

// [package, file inside the package, name under vendor/]
const FILES = [
  ["htmx.org", "dist/htmx.min.js", "htmx/htmx.min.js"],
  ["htmx.org", "LICENSE", "htmx/LICENSE"],
  ["leaflet", "dist/leaflet.js", "leaflet/leaflet.js"],
  ["leaflet", "dist/leaflet.css", "leaflet/leaflet.css"],
  ["leaflet", "dist/images", "leaflet/images"],
  ["leaflet", "LICENSE", "leaflet/LICENSE"],
  // The "common" build has the bar, line and pie charts the dashboard uses, at half the size.
  ["echarts", "dist/echarts.common.min.js", "echarts/echarts.min.js"],
  ["echarts", "LICENSE", "echarts/LICENSE"],
];

function version(pkg) {
  return JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
}

rmSync(vendor, { recursive: true, force: true });
for (const [pkg, source, target] of FILES) {
  const to = join(vendor, target);
  mkdirSync(dirname(to), { recursive: true });
  cpSync(join(modules, pkg, source), to, { recursive: true });
}
const packages = [...new Set(FILES.map(([pkg]) => pkg))];
const lines = packages.map((pkg) => `${pkg} ${version(pkg)}`);
writeFileSync(join(vendor, "VERSIONS.txt"), lines.join("\n") + "\n");
console.log(`static: ${lines.join(", ")} → ${vendor}`);
