// The browser imports /ui/vendor/preact.js, which the server serves from node_modules/preact.
export * from 'preact';
