// The browser imports /ui/vendor/hooks.js, which the server serves from node_modules/preact/hooks.
export * from 'preact/hooks';
