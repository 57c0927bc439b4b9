// Swagger UI on this service's OpenAPI document. A file of the project rather than an
// inline script, so that the page's Content-Security-Policy needs no 'unsafe-inline'.
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    // Off: a deep link puts a link inside each operation's expand button, which
    // assistive technology cannot reach (axe-core: nested-interactive, serious).
    deepLinking: false,
    showExtensions: true,
    showCommonExtensions: true,
    // No badge from a public validator: the page talks to this service only.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
