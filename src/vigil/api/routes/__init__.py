"""The API's routers, one per domain; `vigil.api.app` includes them."""
