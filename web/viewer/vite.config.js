// Builds the viewer into ../../internal/viewer/dist, which the Go binary
// embeds (go:embed). index.html becomes an html/template: asset URLs in it are
// written as {{.Assets}}assets/…, so the Go handler can be mounted at any
// path; inside JavaScript (workers, wasm, chunks) URLs are relative to the
// importing file and need nothing from Go.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const stub = fileURLToPath(new URL('./src/unsupported-codec.js', import.meta.url));
const noMesh = fileURLToPath(new URL('./src/no-mesh-reader.js', import.meta.url));

// Codecs the viewer leaves out to keep the binary small (their wasm is large and
// the transfer syntaxes are rare in archives): JPEG XL (~1.1 MB of wasm).
// A frame in such a syntax fails with a message that names it.
const dropped = [/\/decoders\/decodeJPEGXL\.js$/];

// Surface mesh readers of vtk.js that cornerstone's cache imports but a stack
// viewer never uses (they pull in an XML library, ~300 kB).
const meshReaders = /@kitware\/vtk\.js\/IO\/(XML\/XMLPolyDataReader|Geometry\/PLYReader|Geometry\/STLReader|Misc\/OBJReader)\.js$/;

function dropMeshReaders() {
  return {
    name: 'cie-drop-mesh-readers',
    enforce: 'pre',
    resolveId(source) {
      return meshReaders.test(source) ? noMesh : null;
    },
  };
}

function dropCodecs() {
  return {
    name: 'cie-drop-codecs',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!importer || !importer.includes('@cornerstonejs/dicom-image-loader')) return null;
      const r = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (r && dropped.some((re) => re.test(r.id))) return stub;
      return null;
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [dropCodecs(), dropMeshReaders()],
  worker: { format: 'es', plugins: () => [dropCodecs()] },
  build: {
    outDir: '../../internal/viewer/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 4000,
    assetsInlineLimit: 0,
  },
  experimental: {
    renderBuiltUrl(filename, { hostType }) {
      if (hostType === 'html') return `{{.Assets}}${filename}`;
      return { relative: true };
    },
  },
  optimizeDeps: { exclude: ['@cornerstonejs/dicom-image-loader'] },
});
