/**
 * Gantry's layers, checked by `npm run lint` (and so by `npm test`). A folder of src/ may import
 * only folders of a lower layer, never one of its own layer or above; with no file-level cycle
 * either, the folders form a DAG by construction. docs/architecture.md draws the same table.
 */
const LAYERS = [
  ['contract', 'version'], // the shared vocabulary: schemas, error catalogue, records, the runtime boundary
  ['domain'], // pure rules: defaults, validation, status, revisions, clock and ids
  ['store', 'storage', 'runtime', 'gateway'], // the database, blobs, replicas, the data plane's pieces
  ['endpoints', 'queue', 'metrics', 'registry'],
  ['usage', 'reconciler', 'autoscaler', 'cluster'], // control loops; several instances' lease, messages and shared state
  ['commands'], // what a request (or a chore acting like one) does
  ['api'], // HTTP: routes, auth, error rendering
  ['config', 'app'],
  ['cli'], // wiring: the only place that builds everything
];

const at = (folder) => `^src/${folder}(/|\\.ts$)`;
const layerRules = LAYERS.flatMap((layer, rank) =>
  layer.flatMap((folder) => {
    const notLower = LAYERS.slice(rank)
      .flat()
      .filter((f) => f !== folder);
    if (notLower.length === 0) return [];
    return {
      name: `layer-${folder}`,
      comment: `src/${folder} may import only lower layers (${LAYERS.slice(0, rank).flat().join(', ') || 'none'})`,
      severity: 'error',
      from: { path: at(folder) },
      to: { path: notLower.map(at) },
    };
  }),
);

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'no import cycle between files', severity: 'error', from: {}, to: { circular: true } },
    { name: 'src-not-to-tests', comment: 'src never imports tests or benchmarks', severity: 'error', from: { path: '^src/' }, to: { path: '^(test|bench)/' } },
    ...layerRules,
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
