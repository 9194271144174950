// Stands in for vtk.js's surface mesh readers (see vite.config.js): the stack
// viewer never loads meshes; if something tries, it fails with a message.
export default {
  newInstance() {
    throw new Error('surface meshes are not supported by the cie viewer');
  },
};
