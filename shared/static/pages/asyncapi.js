// The AsyncAPI viewer on this service's AsyncAPI document. A file of the project rather
// than an inline script, so that the page's Content-Security-Policy needs no
// 'unsafe-inline'.
(function () {
  "use strict";
  var node = document.getElementById("asyncapi");
  var config = {
    show: {
      sidebar: true,
      info: true,
      servers: true,
      operations: true,
      messages: true,
      schemas: true,
      errors: true,
    },
    expand: { messageExamples: true },
    sidebar: { showServers: "byDefault", showOperations: "byDefault" },
  };
  fetch(node.dataset.documentUrl)
    .then(function (response) {
      if (!response.ok) {
        throw new Error(response.status + " " + response.statusText);
      }
      return response.text();
    })
    .then(function (schema) {
      AsyncApiStandalone.render({ schema: schema, config: config }, node);
    })
    .catch(function (error) {
      node.textContent = "The AsyncAPI document could not be read: " + error.message;
    });
})();
