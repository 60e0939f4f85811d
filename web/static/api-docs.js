// Swagger UI on the API's own document, with files served by the console (no CDN, no inline script).
window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" });
