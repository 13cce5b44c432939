// Builds the page into dist/: one bundled, minified app.js (esbuild), index.html and style.css copied as they are,
// and an empty config.json.
// `npm run build` type-checks with tsc first; esbuild itself only strips the types.
import { build } from "esbuild";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";

const dist = new URL("./dist/", import.meta.url);
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/app.js",
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
for (const file of ["index.html", "style.css"]) {
  await copyFile(new URL(`./src/${file}`, import.meta.url), new URL(file, dist));
}
// Where the gateway is, for the page to ask its own server: empty here (the page then uses port 8080 of its host);
// `make run` answers config.json itself with the gateway it started.
await writeFile(new URL("config.json", dist), `${JSON.stringify({ gateway: "" })}\n`);
console.log(`built ${new URL(".", dist).pathname}`);
