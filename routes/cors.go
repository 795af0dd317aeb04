package routes

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
)

// cors lets SMART apps running in a browser on one of the configured origins call the API. Tokens
// travel in the Authorization header, never in cookies, so credentials are not allowed and no origin
// is ever answered with a wildcard.
func cors(origins []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		if len(origins) > 0 {
			// Every answer depends on Origin once any origin is allowed, also when this one is not, so
			// that a shared cache never serves one origin's answer to another (Fetch, "CORS protocol
			// and HTTP caches").
			h.Add("Vary", "Origin")
		}
		origin := c.GetHeader("Origin")
		if origin == "" || !slices.Contains(origins, origin) {
			c.Next()
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "ETag, Location, X-Request-ID, Retry-After, WWW-Authenticate, traceresponse")
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Accept, Content-Type, If-None-Match, If-Match, Prefer, X-Request-ID, X-Correlation-ID, traceparent")
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}
