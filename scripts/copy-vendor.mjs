// Copy the browser builds of our npm dependencies into static/vendor (git-ignored).
// Nothing is vendored by hand: package-lock.json pins what lands here.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const target = join(root, "static", "vendor");

// `files` limits the copy to those paths inside `from`; without it the whole folder is copied.
const packages = [
  { name: "wavesurfer.js", from: "dist" },
  { name: "chart.js", from: "dist", files: ["chart.umd.min.js"] },
];

const skip = (src) => src.endsWith(".d.ts") || src.endsWith(".map");

rmSync(target, { recursive: true, force: true });
for (const pkg of packages) {
  const source = join(root, "node_modules", pkg.name, pkg.from);
  if (!existsSync(source)) {
    console.error(`missing ${source}: run npm ci first`);
    process.exit(1);
  }
  const dest = join(target, pkg.name);
  mkdirSync(dest, { recursive: true });
  for (const entry of pkg.files ?? ["."]) {
    cpSync(join(source, entry), join(dest, entry), { recursive: true, filter: (src) => !skip(src) });
  }
  console.log(`copied ${pkg.name} → static/vendor/${pkg.name}`);
}
