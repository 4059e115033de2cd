// /docs: Swagger UI (vendored, see scripts/vendor_web.sh) on this service's OpenAPI schema.
// A file rather than an inline script, so the page keeps the dashboard's script-src 'self'.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
});
