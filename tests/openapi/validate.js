// Validates an OpenAPI document with @apidevtools/swagger-parser, which
// checks it against the official OpenAPI 3.0 JSON schema and resolves every
// $ref. Prints "openapi: valid (N paths)" or the validator's error and
// exits 1. Usage: node validate.js docs/api/openapi.yaml
'use strict';
const SwaggerParser = require('@apidevtools/swagger-parser');

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate.js FILE');
  process.exit(2);
}
SwaggerParser.validate(file)
  .then((api) => {
    if (!/^3\.0\./.test(api.openapi || '')) {
      console.error(`openapi: ${file}: version "${api.openapi}", want 3.0.x`);
      process.exit(1);
    }
    console.log(`openapi: valid (${Object.keys(api.paths).length} paths)`);
  })
  .catch((err) => {
    console.error(`openapi: ${file}: ${err.message}`);
    process.exit(1);
  });
