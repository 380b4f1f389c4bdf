// The browser imports /ui/vendor/htm.js, which the server serves from node_modules/htm.
export { default } from 'htm';
