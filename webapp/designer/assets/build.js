// Build the process designer bundle: `npm run build` (also run by `npm install` / `npm ci`, see package.json).
//
//   webapp/designer/assets/designer.js  -> webapp/static/build/designer.js   (iife, minified, es2020)
//   the CSS of diagram-js, bpmn-js, bpmn-font, the properties panel, bpmn-js-bpmnlint and designer.css
//                                       -> webapp/static/build/designer.css  (+ the bpmn icon font beside it)
//
// webapp/static/build/ is git-ignored (the `build/` pattern): the bundle is made on install, never committed.
// Only file types the wheel's package-data takes are written (.js, .css, .woff2): no source map, and the icon
// font as woff2 only (every browser the designer supports reads it).
//
// CommonJS on purpose: a .js file ships with the webapp package (pyproject's package-data), an .mjs would not.

'use strict';

const { build } = require('esbuild');
const { mkdir, readFile, readdir, rm, stat } = require('node:fs/promises');
const { dirname, join, relative, resolve } = require('node:path');

const here = __dirname;
const root = resolve(here, '..', '..', '..');
const outdir = join(root, 'webapp', 'static', 'build');

const CSS = [
  'bpmn-js/dist/assets/diagram-js.css',
  'bpmn-js/dist/assets/bpmn-js.css',
  'bpmn-js/dist/assets/bpmn-font/css/bpmn.css',
  '@bpmn-io/properties-panel/assets/properties-panel.css',
  'bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css',
  './designer.css'
];

// bpmn.css offers the icon font as eot, woff2, woff, ttf and svg: keep the woff2
const woff2Only = {
  name: 'bpmn-font-woff2',
  setup(b) {
    b.onLoad({ filter: /bpmn-font[\\/]css[\\/]bpmn\.css$/ }, async args => {
      const css = await readFile(args.path, 'utf8');
      const face = "@font-face {\n  font-family: 'bpmn';\n  src: url('../font/bpmn.woff2') format('woff2');\n"
        + '  font-weight: normal;\n  font-style: normal;\n}';
      const contents = css.replace(/@font-face\s*{[^}]*}/, face);
      if (contents === css) {
        throw new Error('bpmn.css: no @font-face to rewrite');
      }
      return { contents, loader: 'css', resolveDir: dirname(args.path) };
    });
  }
};

const common = {
  bundle: true,
  minify: true,
  target: 'es2020',
  logLevel: 'warning',
  absWorkingDir: root,
  nodePaths: [ join(root, 'node_modules') ],
  legalComments: 'none'
};

async function main() {
  await mkdir(outdir, { recursive: true });

  // what an earlier build made (the font names carry a hash); anything else in the folder stays
  const ours = /^(designer\.(js|css)(\.map)?|bpmn-[A-Z0-9]+\.(woff2?|ttf|eot|svg))$/;
  for (const name of await readdir(outdir)) {
    if (ours.test(name)) {
      await rm(join(outdir, name), { force: true });
    }
  }

  await build({
    ...common,
    entryPoints: [ join(here, 'designer.js') ],
    outfile: join(outdir, 'designer.js'),
    format: 'iife',
    platform: 'browser',
    define: { 'process.env.NODE_ENV': '"production"' },
    loader: { '.json': 'json' }
  });

  await build({
    ...common,
    stdin: {
      contents: CSS.map(path => `@import ${JSON.stringify(path)};`).join('\n'),
      resolveDir: here,
      sourcefile: 'designer-entry.css',
      loader: 'css'
    },
    outfile: join(outdir, 'designer.css'),
    plugins: [ woff2Only ],
    loader: { '.woff2': 'file' },
    assetNames: '[name]-[hash]'
  });

  for (const name of (await readdir(outdir)).filter(n => ours.test(n)).sort()) {
    const { size } = await stat(join(outdir, name));
    console.log(`${relative(root, join(outdir, name))}  ${(size / 1024).toFixed(1)} KiB`);
  }
}

main().catch(err => {
  console.error(err && err.message ? err.message : err);
  process.exit(1);
});
